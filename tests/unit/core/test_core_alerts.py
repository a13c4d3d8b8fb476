"""Alert state from real Alertmanager 0.25 webhook bodies (tests/fixtures/alertmanager).

DESIGN §5: a condition holds iff a matching alert is firing and ``now − startsAt ≥ for``; each
alert's own status counts (a firing group can carry a resolved alert); dedupe by fingerprint;
a firing alert not re-sent within the TTL expires.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autoscaler.core.alerts import (
    AlertBook,
    AlertStore,
    PayloadError,
    WebhookPayload,
    parse_timestamp,
    parse_webhook,
)
from autoscaler.core.engine import Reason, TargetState, decide
from autoscaler.core.observations import Observations
from autoscaler.core.policy import Policy

Load = Callable[[str], WebhookPayload]
ALERTMANAGER_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager"

STARTS_STAGING = parse_timestamp("2026-11-26T11:18:49.125Z")
"""startsAt of both staging-es alerts in the api-group-* fixtures."""
STARTS_PROD = parse_timestamp("2026-11-26T11:18:30.448Z")
"""startsAt of the api-firing.json alert."""
TTL = 3600.0


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ALERTMANAGER_FIXTURES / name).read_text("utf-8"))
    return data


def alert_policy(make_policy: Callable[..., Policy], condition: dict[str, Any]) -> Policy:
    return make_policy(scaleUp={"when": condition}, scaleDown=None)


def polls_until(now: float) -> Observations:
    """Fresh polls (no metrics needed for alert conditions)."""
    return Observations.from_rows([(now - 10, {}), (now, {})])


def decide_alerts(policy: Policy, book: AlertBook, now: float, confirmed: float | None = None):
    return decide(
        policy, polls_until(now), book, TargetState(3, False, confirmed), now, alert_ttl=TTL
    )


# --- parsing the real payloads ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "api-firing.json",
        "api-resolved.json",
        "api-group-two-firing.json",
        "api-group-mixed-one-resolved.json",
        "api-group-last-resolved.json",
        "prometheus-e2e-firing.json",
        "prometheus-e2e-resolved.json",
    ],
)
def test_every_captured_payload_parses(payload: Load, name: str) -> None:
    p = payload(name)
    assert p.version == "4"
    assert p.alerts
    assert all(a.fingerprint for a in p.alerts)


def test_firing_group_carries_a_resolved_alert(payload: Load) -> None:
    p = payload("api-group-mixed-one-resolved.json")
    assert p.status == "firing"
    assert [(a.labels["node"], a.status) for a in p.alerts] == [
        ("es-data-0", "firing"),
        ("es-data-1", "resolved"),
    ]


def test_unsupported_version_is_told_apart_from_malformed() -> None:
    body = raw("api-firing.json") | {"version": "3"}
    with pytest.raises(PayloadError) as e:
        parse_webhook(body)
    assert e.value.unsupported_version
    assert e.value.problems == ["version: '3' is not '4'"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        pytest.param(
            lambda b: b["alerts"][0]["labels"].pop("alertname"),
            "$.alerts[0].labels: an alert needs an 'alertname' label",
            id="no_alertname",
        ),
        pytest.param(
            lambda b: b["alerts"][0].update(status="pending"),
            "$.alerts[0].status: Input should be 'firing' or 'resolved'",
            id="bad_status",
        ),
        pytest.param(lambda b: b.pop("alerts"), "$.alerts: Field required", id="no_alerts"),
    ],
)
def test_malformed_payload_lists_problem_with_json_path(mutate: Any, problem: str) -> None:
    body = raw("api-firing.json")
    mutate(body)
    with pytest.raises(PayloadError) as e:
        parse_webhook(body)
    assert not e.value.unsupported_version
    assert problem in e.value.problems


def test_payload_must_be_an_object() -> None:
    with pytest.raises(PayloadError) as e:
        parse_webhook([raw("api-firing.json")])
    assert e.value.problems == ["$: expected an object"]


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-11-26T11:18:49.125Z", 1795691929.125),
        ("2026-11-26T11:18:49.125456789Z", 1795691929.125457),
        ("2026-11-26T12:18:49+01:00", 1795691929.0),
    ],
)
def test_parse_timestamp_rfc3339_with_go_nanoseconds(text: str, epoch: float) -> None:
    assert parse_timestamp(text) == pytest.approx(epoch, abs=1e-6)


def test_parse_timestamp_without_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_timestamp("2026-11-26T11:18:49")


# --- the book -----------------------------------------------------------------------------


def test_alert_resolved_inside_firing_group_stops_firing(payload: Load) -> None:
    book = AlertBook().apply(payload("api-group-two-firing.json"), received_at=100)
    book = book.apply(payload("api-group-mixed-one-resolved.json"), received_at=200)
    firing = book.firing(now=STARTS_STAGING + 600, ttl=TTL * 1e6)
    assert [a.labels["node"] for a in firing] == ["es-data-0"]
    book = book.apply(payload("api-group-last-resolved.json"), received_at=300)
    assert book.firing(now=STARTS_STAGING + 600, ttl=TTL * 1e6) == []


def test_alert_resolved_inside_firing_group_makes_condition_false(
    make_policy: Callable[..., Policy], payload: Load
) -> None:
    now = STARTS_STAGING + 600
    book = AlertBook().apply(payload("api-group-two-firing.json"), received_at=now - 300)
    book = book.apply(payload("api-group-mixed-one-resolved.json"), received_at=now - 200)
    one = {"alert": "EsHighCpu", "labels": {"node": "es-data-1"}, "for": "5m"}
    zero = {"alert": "EsHighCpu", "labels": {"node": "es-data-0"}, "for": "5m"}
    d = decide_alerts(alert_policy(make_policy, one), book, now)
    assert d.action == "none"
    assert d.reasons == (
        Reason("not_sustained", "up", "alert EsHighCpu{node=es-data-1} for 5m", 0, 300),
    )
    assert decide_alerts(alert_policy(make_policy, zero), book, now).action == "scale_up"


def test_fingerprint_dedupe(payload: Load) -> None:
    book = AlertBook()
    for at in (100, 200, 300):
        book = book.apply(payload("api-group-two-firing.json"), received_at=at)
    book = book.apply(payload("api-firing.json"), received_at=400)
    assert sorted(book.alerts) == ["6691175c604de917", "6f4a0d633d8c7fe3", "7da622a36d62f3f4"]
    assert {a.received_at for a in book.alerts.values()} == {300, 400}


def test_alert_without_fingerprint_is_keyed_by_its_labels() -> None:
    body = raw("api-firing.json")
    del body["alerts"][0]["fingerprint"]
    reordered = raw("api-firing.json")
    del reordered["alerts"][0]["fingerprint"]
    reordered["alerts"][0]["labels"] = dict(reversed(reordered["alerts"][0]["labels"].items()))
    book = AlertBook().apply(parse_webhook(body), received_at=1)
    book = book.apply(parse_webhook(reordered), received_at=2)
    assert len(book.alerts) == 1
    assert next(iter(book.alerts)).startswith("labels:")


def test_late_older_notification_does_not_undo_a_newer_one(payload: Load) -> None:
    book = AlertBook().apply(payload("api-resolved.json"), received_at=200)
    book = book.apply(payload("api-firing.json"), received_at=100)  # delivered late
    assert book.alerts["6f4a0d633d8c7fe3"].status == "resolved"


@pytest.mark.parametrize(
    ("age", "firing"),
    [
        pytest.param(TTL, True, id="resent_exactly_ttl_ago_still_firing"),
        pytest.param(TTL + 0.001, False, id="not_resent_within_ttl_expires"),
    ],
)
def test_alert_ttl_expiry(payload: Load, age: float, firing: bool) -> None:
    received = STARTS_PROD + 1
    book = AlertBook().apply(payload("api-firing.json"), received_at=received)
    now = received + age
    assert bool(book.firing(now=now, ttl=TTL)) is firing
    assert bool(book.expired(now=now, ttl=TTL)) is not firing


def test_alert_ttl_expiry_makes_condition_false(
    make_policy: Callable[..., Policy], payload: Load
) -> None:
    policy = alert_policy(make_policy, {"alert": "EsHighCpu", "labels": {"cluster": "prod-es"}})
    book = AlertBook().apply(payload("api-firing.json"), received_at=STARTS_PROD + 1)
    assert decide_alerts(policy, book, STARTS_PROD + 1 + TTL).action == "scale_up"
    assert decide_alerts(policy, book, STARTS_PROD + 2 + TTL).action == "none"
    resent = book.apply(payload("api-firing.json"), received_at=STARTS_PROD + TTL)
    assert decide_alerts(policy, resent, STARTS_PROD + 2 + TTL).action == "scale_up"


def test_pruned_drops_only_what_is_older_than_ttl(payload: Load) -> None:
    book = AlertBook().apply(payload("api-resolved.json"), received_at=0)
    book = book.apply(payload("api-group-two-firing.json"), received_at=500)
    pruned = book.pruned(now=TTL + 100, ttl=TTL)
    assert sorted(pruned.alerts) == ["6691175c604de917", "7da622a36d62f3f4"]
    assert pruned.pruned(now=TTL + 100, ttl=TTL) is pruned


# --- the alert condition in the engine ----------------------------------------------------


@pytest.mark.parametrize(
    ("age", "action", "elapsed"),
    [
        pytest.param(299.999, "none", 299.999, id="firing_but_younger_than_for"),
        pytest.param(300, "scale_up", 300, id="firing_exactly_for_long"),
    ],
)
def test_alert_firing_but_younger_than_for(
    make_policy: Callable[..., Policy], payload: Load, age: float, action: str, elapsed: float
) -> None:
    cond = {"alert": "EsHighCpu", "labels": {"cluster": "prod-es"}, "for": "5m"}
    policy = alert_policy(make_policy, cond)
    book = AlertBook().apply(payload("api-firing.json"), received_at=STARTS_PROD + 1)
    d = decide_alerts(policy, book, STARTS_PROD + age)
    assert d.action == action
    leaf = d.up.leaves[0] if d.up else None
    assert leaf is not None
    assert (leaf.kind, leaf.stale, leaf.needed) == ("alert", False, 300)
    assert leaf.elapsed == pytest.approx(elapsed)


def test_alert_labels_must_all_match(make_policy: Callable[..., Policy], payload: Load) -> None:
    book = AlertBook().apply(payload("api-firing.json"), received_at=STARTS_PROD + 1)
    now = STARTS_PROD + 60
    for labels, action in [
        ({}, "scale_up"),
        ({"cluster": "prod-es", "severity": "warning"}, "scale_up"),
        ({"cluster": "staging-es"}, "none"),
        ({"cluster": "prod-es", "node": "es-data-0"}, "none"),
    ]:
        policy = alert_policy(make_policy, {"alert": "EsHighCpu", "labels": labels})
        assert decide_alerts(policy, book, now).action == action, labels
    other = alert_policy(make_policy, {"alert": "EsSearchLatencyHigh"})
    assert decide_alerts(other, book, now).action == "none"


def test_alert_starting_in_the_future_is_not_firing(payload: Load) -> None:
    book = AlertBook().apply(payload("api-firing.json"), received_at=STARTS_PROD)
    assert book.firing(now=STARTS_PROD - 1, ttl=TTL) == []


def test_alert_window_never_reaches_back_before_last_confirmation(
    make_policy: Callable[..., Policy], payload: Load
) -> None:
    cond = {"alert": "EsHighCpu", "for": "5m"}
    policy = make_policy(scaleUp={"when": cond, "cooldown": "1m"}, scaleDown=None)
    book = AlertBook().apply(payload("api-firing.json"), received_at=STARTS_PROD + 1)
    confirmed = STARTS_PROD + 600
    d = decide_alerts(policy, book, confirmed + 299, confirmed=confirmed)
    assert d.action == "none"
    assert d.reasons[0].elapsed == 299
    assert decide_alerts(policy, book, confirmed + 300, confirmed=confirmed).action == "scale_up"


# --- bounded input (issue 9 item 4) ---------------------------------------------------------


def test_parse_timestamp_accepts_go_nanoseconds() -> None:
    assert parse_timestamp("2026-11-26T11:18:49.125000001Z") == pytest.approx(STARTS_STAGING)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-11-26T11:18:49." + "1" * 10 + "Z", id="ten_fraction_digits"),
        pytest.param("2026-11-26T11:18:49." + "1" * 1_000_000 + "Z", id="megabyte_fraction"),
        pytest.param("2026-11-26T11:18:49Z" + " " * 100, id="padded_past_any_rfc3339"),
    ],
)
def test_parse_timestamp_refuses_more_than_rfc3339_allows(text: str) -> None:
    # A 1 MB fraction used to be copied digit by digit (quadratic): refused at once now.
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_timestamp(text)


# --- the service's indexed, bounded store (issue 9 item 5, issue 10) ------------------------


def synthetic(n: int, *, name: str = "EsHighCpu", status: str = "firing", start: int = 0) -> Any:
    """A v4 payload of ``n`` distinct alerts (fingerprints f<start>..f<start+n-1>)."""
    body = raw("api-firing.json")
    template = body["alerts"][0]
    body["alerts"] = [
        {
            **template,
            "status": status,
            "labels": {**template["labels"], "alertname": name, "node": f"n{i}"},
            "fingerprint": f"f{i}",
        }
        for i in range(start, start + n)
    ]
    return parse_webhook(body)


def test_store_gives_the_same_answers_as_the_book(payload: Load) -> None:
    book, store = AlertBook(), AlertStore(capacity=100)
    for at, name in enumerate(
        ["api-group-two-firing.json", "api-firing.json", "api-group-mixed-one-resolved.json"]
    ):
        book = book.apply(payload(name), received_at=at)
        store.apply(payload(name), received_at=at)
    now = STARTS_STAGING + 600
    view = store.book(["EsHighCpu"])
    assert view.alerts == book.alerts
    assert view.firing(now=now, ttl=TTL) == book.firing(now=now, ttl=TTL)
    assert store.firing_count(now=now, ttl=TTL) == len(book.firing(now=now, ttl=TTL))


def test_store_view_holds_only_the_named_alerts(payload: Load) -> None:
    store = AlertStore(capacity=100)
    store.apply(synthetic(3, name="A"), received_at=1)
    store.apply(synthetic(2, name="B", start=3), received_at=1)
    assert sorted(store.book(["B"]).alerts) == ["f3", "f4"]
    assert store.book(["C"]).alerts == {}


def test_store_late_older_notification_does_not_undo_a_newer_one(payload: Load) -> None:
    store = AlertStore(capacity=10)
    store.apply(payload("api-resolved.json"), received_at=200)
    store.apply(payload("api-firing.json"), received_at=100)
    assert store.get("6f4a0d633d8c7fe3").status == "resolved"  # type: ignore[union-attr]


def test_store_keeps_only_alerts_some_policy_can_match() -> None:
    store = AlertStore(capacity=100, keep=lambda labels: labels["alertname"] == "A")
    result = store.apply(synthetic(3, name="B"), received_at=1)
    result2 = store.apply(synthetic(2, name="A", start=3), received_at=1)
    assert len(store) == 2
    assert (result.names, result.ignored) == (frozenset(), 3)
    assert (result2.names, result2.ignored) == (frozenset({"A"}), 0)


def test_store_over_capacity_drops_the_least_recently_heard_and_counts_it() -> None:
    store = AlertStore(capacity=5)
    store.apply(synthetic(4), received_at=1)
    store.apply(synthetic(1, start=0), received_at=2)  # f0 heard again: now the newest
    result = store.apply(synthetic(3, start=4), received_at=3)
    assert result.dropped == 2
    assert sorted(a.fingerprint for a in store.values()) == ["f0", "f3", "f4", "f5", "f6"]


def test_store_prunes_what_is_older_than_ttl_like_the_book(payload: Load) -> None:
    store = AlertStore(capacity=10)
    store.apply(payload("api-resolved.json"), received_at=0)
    store.apply(payload("api-group-two-firing.json"), received_at=500)
    assert store.prune(now=TTL + 100, ttl=TTL) == 1
    assert sorted(a.fingerprint for a in store.values()) == ["6691175c604de917", "7da622a36d62f3f4"]
    assert store.book(["EsHighCpu"]).alerts.keys() == {"6691175c604de917", "7da622a36d62f3f4"}


def test_store_retain_forgets_alerts_no_policy_matches_any_more() -> None:
    store = AlertStore(capacity=10)
    store.apply(synthetic(2, name="A"), received_at=1)
    store.apply(synthetic(2, name="B", start=2), received_at=1)
    assert store.retain(lambda labels: labels["alertname"] == "B") == 2
    assert sorted(a.fingerprint for a in store.values()) == ["f2", "f3"]
    assert store.book(["A"]).alerts == {}


def test_store_apply_costs_the_payload_not_the_store() -> None:
    # Counted, not timed: applying one alert touches O(1) entries whatever the store holds.
    store = AlertStore(capacity=200_000)
    store.apply(synthetic(100_000), received_at=1)
    before = store.operations
    store.apply(synthetic(1, start=100_000), received_at=2)
    store.prune(now=2, ttl=TTL)
    assert store.operations - before <= 4
