"""``DiskThresholdMonitor``: the flood-stage watermark makes indices read-only, and releases them.

When a node's disk passes ``cluster.routing.allocation.disk.watermark.flood_stage`` (95 %),
Elasticsearch sets ``index.blocks.read_only_allow_delete: true`` on every index with a shard on
that node — writes fail until space is freed. Since 7.4 the block is released automatically
once none of the index's shards is on a node above the *high* watermark (any such block, also
one set by hand). Source: ``elastic/elasticsearch`` ``server/src/main/java/org/elasticsearch/
cluster/routing/allocation/DiskThresholdMonitor.java`` (``indicesToMarkReadOnly``,
``indicesToAutoRelease``). It runs whenever fresh disk usage arrives, i.e. every
``cluster.info.update.interval`` (30s); the twin checks on that period of simulated time.
"""

from __future__ import annotations

from autoscaler.sim.es.indices import IndicesMixin
from autoscaler.sim.es.units import parse_time_value

_BLOCK = "index.blocks.read_only_allow_delete"


class DiskMonitorMixin(IndicesMixin):
    """The flood-stage block and its auto-release, on the ``ClusterInfo`` period."""

    def _disk_monitor_due(self, now: float) -> bool:
        if self._info_interval is None:  # reset by update_settings
            raw = self._eff_str("cluster.info.update.interval") or "30s"
            self._info_interval = parse_time_value(raw, "cluster.info.update.interval")
        return now - self._last_disk_check >= self._info_interval

    def check_disk_watermarks(self) -> None:
        """One ``DiskThresholdMonitor.onNewInfo`` pass (the twin calls it every 30 s)."""
        self._last_disk_check = self._now()
        cfg = self._cfg
        if not cfg.threshold_enabled:
            return
        flood_nodes: set[str] = set()
        high_nodes: set[str] = set()
        for node in self._nodes.values():
            if not node.is_data:
                continue
            free = node.disk_bytes - node.used_bytes()
            if free < cfg.flood.required_free(node.disk_bytes):
                flood_nodes.add(node.name)
            if free < cfg.high.required_free(node.disk_bytes):
                high_nodes.add(node.name)
        on_flood: set[str] = set()
        on_high: set[str] = set()
        for name in flood_nodes | high_nodes:
            for c in self._nodes[name].copies:
                if name in flood_nodes:
                    on_flood.add(c.index)
                on_high.add(c.index)
        for idx in self._indices.values():
            if idx.name in on_flood and not idx.read_only_allow_delete:
                idx.settings[_BLOCK] = "true"
                idx.read_only_allow_delete = True
                idx.auto_blocked = True
            elif idx.read_only_allow_delete and idx.name not in on_high:
                idx.settings.pop(_BLOCK, None)
                idx.read_only_allow_delete = False
                idx.auto_blocked = False
