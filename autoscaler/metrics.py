"""Prometheus metrics of the service, built on a registry the caller owns.

One class holds every metric so names, labels and units are defined in one place, and each
test (or each service instance) builds its own registry instead of sharing the global one.
Names follow Prometheus conventions: ``esas_`` prefix, base units, ``_total`` for counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """All metrics of one service instance."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "esas_decisions_total",
            "Policy evaluations by resulting direction and outcome "
            "(acted, dry_run, held: the first reason code when nothing is done).",
            ["policy", "direction", "outcome"],
            registry=r,
        )
        self.condition_satisfied = Gauge(
            "esas_condition_satisfied",
            "1 when a policy condition (leaf) currently holds, else 0.",
            ["policy", "direction", "condition"],
            registry=r,
        )
        self.condition_sustained = Gauge(
            "esas_condition_sustained_seconds",
            "How long a policy condition (leaf) has held without a break, up to its 'for'.",
            ["policy", "direction", "condition"],
            registry=r,
        )
        self.condition_for = Gauge(
            "esas_condition_for_seconds",
            "How long a policy condition (leaf) must hold before it counts (its 'for').",
            ["policy", "direction", "condition"],
            registry=r,
        )
        self.condition_value = Gauge(
            "esas_condition_value",
            "Latest value a metric condition compares with its threshold.",
            ["policy", "direction", "condition"],
            registry=r,
        )
        self.condition_threshold = Gauge(
            "esas_condition_threshold",
            "The threshold of a metric condition (above/below).",
            ["policy", "direction", "condition"],
            registry=r,
        )
        self.signal_value = Gauge(
            "esas_signal_value",
            "Latest tier aggregate a policy reads, by metric and aggregate.",
            ["policy", "metric", "aggregate"],
            registry=r,
        )
        self.data_stale = Gauge(
            "esas_data_stale",
            "1 when a policy holds because its data is stale or missing.",
            ["policy"],
            registry=r,
        )
        self.poll_duration = Histogram(
            "esas_poll_duration_seconds",
            "Duration of one Elasticsearch poll (node stats + health).",
            ["cluster"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.poll_errors = Counter(
            "esas_poll_errors_total",
            "Failed Elasticsearch polls by cluster and reason.",
            ["cluster", "reason"],
            registry=r,
        )
        self.webhook_requests = Counter(
            "esas_webhook_requests_total",
            "Alertmanager webhook requests by HTTP status code and reason (ok or why rejected).",
            ["code", "reason"],
            registry=r,
        )
        self.active_alerts = Gauge(
            "esas_active_alerts",
            "Alerts currently firing (received, not resolved, not expired).",
            registry=r,
        )
        self.alerts_ignored = Counter(
            "esas_alerts_ignored_total",
            "Alerts received that no policy's alert condition matches (not remembered).",
            registry=r,
        )
        self.alerts_dropped = Counter(
            "esas_alerts_dropped_total",
            "Remembered alerts evicted, least recently heard first, because the alert book "
            "was at capacity.",
            registry=r,
        )
        self.alert_book_size = Gauge(
            "esas_alert_book_size",
            "Alerts remembered (firing, resolved or expired, not yet pruned).",
            registry=r,
        )
        self.target_unavailable = Gauge(
            "esas_target_unavailable",
            "1 when the last read of a policy's target size failed (see /api/v1/policies).",
            ["policy"],
            registry=r,
        )
        self.http_connections_refused = Counter(
            "esas_http_connections_refused_total",
            "Connections answered 503 and closed because the connection limit was reached.",
            registry=r,
        )
        self.http_timeouts = Counter(
            "esas_http_timeouts_total",
            "Connections closed (head) or requests answered 408 (body) for being too slow.",
            ["phase"],
            registry=r,
        )
        self.alertmanager_syncs = Counter(
            "esas_alertmanager_syncs_total",
            "Re-syncs of firing alerts from Alertmanager's API by result (success, failure).",
            ["result"],
            registry=r,
        )
        self.replicas_current = Gauge(
            "esas_replicas_current",
            "Current replicas of a policy's target.",
            ["policy"],
            registry=r,
        )
        self.replicas_desired = Gauge(
            "esas_replicas_desired",
            "Replicas the last decision asked for (equals current when holding).",
            ["policy"],
            registry=r,
        )
        self.operations = Counter(
            "esas_operations_total",
            "Finished scale operations by direction and outcome (confirmed, failed, rolled_back).",
            ["policy", "direction", "outcome"],
            registry=r,
        )
        self.operation_failures = Counter(
            "esas_operation_failures_total",
            "Failed scale operations by reason (refused, timeout, failed, drain_blocked).",
            ["policy", "direction", "reason"],
            registry=r,
        )
        self.drain_explains = Counter(
            "esas_drain_explains_total",
            "Allocation explains asked during drains, by answer (movable, throttled, blocked,"
            " error).",
            ["policy", "result"],
            registry=r,
        )
        self.operation_phase = Gauge(
            "esas_operation_phase",
            "1 for the phase a policy's running operation is in, else 0.",
            ["policy", "phase"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "esas_operation_duration_seconds",
            "Duration of finished scale operations, start to confirmation (or failure).",
            ["policy", "direction"],
            buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
            registry=r,
        )
        self.policy_reloads = Counter(
            "esas_policy_reloads_total",
            "Policy (re)loads by result (success, failure).",
            ["result"],
            registry=r,
        )
        self.leader = Gauge(
            "esas_leader",
            "1 while this replica acts (the Lease holder, or a single instance), else 0.",
            registry=r,
        )
