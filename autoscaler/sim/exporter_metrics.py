"""The descriptor tables of prometheus-community/elasticsearch_exporter, as data.

Why a file of its own: ``exporter`` is the logic (labels, collection, text format); these are
~150 generated rows (name, type, help, the JSON field the value decodes from) that should read
one per line and be regenerated, not edited, when the exporter changes. Source and commit:
``autoscaler/sim/exporter.py``'s docstring; the generator and its output are in
``tests/fixtures/elasticsearch/exporter/``.
"""

from __future__ import annotations

from dataclasses import dataclass

# fmt: off
GAUGE = "gauge"
COUNTER = "counter"

#: ``defaultNodeLabels`` of collector/nodes.go.
NODE_LABELS = (
    "cluster",
    "host",
    "name",
    "es_master_node",
    "es_data_node",
    "es_ingest_node",
    "es_client_node",
)


@dataclass(frozen=True)
class Desc:
    """One descriptor as the exporter declares it: where its value comes from in the body."""

    name: str
    kind: str
    help: str
    path: tuple[str, ...]
    #: the exporter divides milliseconds by 1000 for ``*_seconds`` series.
    scale: float = 1.0
    #: a constant extra label (``area="heap"``, ``pool="young"``, ``cache="hit"``, …).
    extra: tuple[str, str] | None = None


def _m(
    name: str,
    kind: str,
    help_: str,
    path: str,
    *,
    scale: float = 1.0,
    extra: tuple[str, str] | None = None,
) -> Desc:
    return Desc(name, kind, help_, tuple(path.split(".")), scale, extra)


#: ``nodeMetrics`` of ``NewNodes`` (nodes.go), in its order.
NODE_METRICS: tuple[Desc, ...] = (
    _m('elasticsearch_os_load1', GAUGE, 'Shortterm load average', 'os.cpu.load_average.1m'),
    _m('elasticsearch_os_load5', GAUGE, 'Midterm load average', 'os.cpu.load_average.5m'),
    _m('elasticsearch_os_load15', GAUGE, 'Longterm load average', 'os.cpu.load_average.15m'),
    _m('elasticsearch_os_cpu_percent', GAUGE, 'Percent CPU used by OS', 'os.cpu.percent'),
    _m('elasticsearch_os_mem_free_bytes', GAUGE, 'Amount of free physical memory in bytes', 'os.mem.free_in_bytes'),
    _m('elasticsearch_os_mem_used_bytes', GAUGE, 'Amount of used physical memory in bytes', 'os.mem.used_in_bytes'),
    _m('elasticsearch_os_mem_actual_free_bytes', GAUGE, 'Amount of free physical memory in bytes', 'os.mem.actual_free_in_bytes'),
    _m('elasticsearch_os_mem_actual_used_bytes', GAUGE, 'Amount of used physical memory in bytes', 'os.mem.actual_used_in_bytes'),
    _m('elasticsearch_indices_fielddata_memory_size_bytes', GAUGE, 'Field data cache memory usage in bytes', 'indices.fielddata.memory_size_in_bytes'),
    _m('elasticsearch_indices_fielddata_evictions', COUNTER, 'Evictions from field data', 'indices.fielddata.evictions'),
    _m('elasticsearch_indices_completion_size_in_bytes', COUNTER, 'Completion in bytes', 'indices.completion.size_in_bytes'),
    _m('elasticsearch_indices_filter_cache_memory_size_bytes', GAUGE, 'Filter cache memory usage in bytes', 'indices.filter_cache.memory_size_in_bytes'),
    _m('elasticsearch_indices_filter_cache_evictions', COUNTER, 'Evictions from filter cache', 'indices.filter_cache.evictions'),
    _m('elasticsearch_indices_query_cache_memory_size_bytes', GAUGE, 'Query cache memory usage in bytes', 'indices.query_cache.memory_size_in_bytes'),
    _m('elasticsearch_indices_query_cache_evictions', COUNTER, 'Evictions from query cache', 'indices.query_cache.evictions'),
    _m('elasticsearch_indices_query_cache_total', COUNTER, 'Query cache total count', 'indices.query_cache.total_count'),
    _m('elasticsearch_indices_query_cache_cache_size', GAUGE, 'Query cache cache size', 'indices.query_cache.cache_size'),
    _m('elasticsearch_indices_query_cache_cache_total', COUNTER, 'Query cache cache count', 'indices.query_cache.cache_count'),
    _m('elasticsearch_indices_query_cache_count', COUNTER, 'Query cache count', 'indices.query_cache.hit_count', extra=('cache', 'hit')),
    _m('elasticsearch_indices_query_miss_count', COUNTER, 'Query miss count', 'indices.query_cache.miss_count', extra=('cache', 'miss')),
    _m('elasticsearch_indices_request_cache_memory_size_bytes', GAUGE, 'Request cache memory usage in bytes', 'indices.request_cache.memory_size_in_bytes'),
    _m('elasticsearch_indices_request_cache_evictions', COUNTER, 'Evictions from request cache', 'indices.request_cache.evictions'),
    _m('elasticsearch_indices_request_cache_count', COUNTER, 'Request cache count', 'indices.request_cache.hit_count', extra=('cache', 'hit')),
    _m('elasticsearch_indices_request_miss_count', COUNTER, 'Request miss count', 'indices.request_cache.miss_count', extra=('cache', 'miss')),
    _m('elasticsearch_indices_translog_operations', COUNTER, 'Total translog operations', 'indices.translog.operations'),
    _m('elasticsearch_indices_translog_size_in_bytes', GAUGE, 'Total translog size in bytes', 'indices.translog.size_in_bytes'),
    _m('elasticsearch_indices_get_time_seconds', COUNTER, 'Total get time in seconds', 'indices.get.time_in_millis', scale=1000),
    _m('elasticsearch_indices_get_total', COUNTER, 'Total get', 'indices.get.total'),
    _m('elasticsearch_indices_get_missing_time_seconds', COUNTER, 'Total time of get missing in seconds', 'indices.get.missing_time_in_millis', scale=1000),
    _m('elasticsearch_indices_get_missing_total', COUNTER, 'Total get missing', 'indices.get.missing_total'),
    _m('elasticsearch_indices_get_exists_time_seconds', COUNTER, 'Total time get exists in seconds', 'indices.get.exists_time_in_millis', scale=1000),
    _m('elasticsearch_indices_get_exists_total', COUNTER, 'Total get exists operations', 'indices.get.exists_total'),
    _m('elasticsearch_indices_refresh_time_seconds_total', COUNTER, 'Total time spent refreshing in seconds', 'indices.refresh.total_time_in_millis', scale=1000),
    _m('elasticsearch_indices_refresh_total', COUNTER, 'Total refreshes', 'indices.refresh.total'),
    _m('elasticsearch_indices_refresh_external_total', COUNTER, 'Total external refreshes', 'indices.refresh.external_total'),
    _m('elasticsearch_indices_refresh_external_time_seconds_total', COUNTER, 'Total time spent external refreshing in seconds', 'indices.refresh.external_total_time_in_millis', scale=1000),
    _m('elasticsearch_indices_search_query_time_seconds', COUNTER, 'Total search query time in seconds', 'indices.search.query_time_in_millis', scale=1000),
    _m('elasticsearch_indices_search_query_total', COUNTER, 'Total number of queries', 'indices.search.query_total'),
    _m('elasticsearch_indices_search_fetch_time_seconds', COUNTER, 'Total search fetch time in seconds', 'indices.search.fetch_time_in_millis', scale=1000),
    _m('elasticsearch_indices_search_fetch_total', COUNTER, 'Total number of fetches', 'indices.search.fetch_total'),
    _m('elasticsearch_indices_search_suggest_total', COUNTER, 'Total number of suggests', 'indices.search.suggest_total'),
    _m('elasticsearch_indices_search_suggest_time_seconds', COUNTER, 'Total suggest time in seconds', 'indices.search.suggest_time_in_millis', scale=1000),
    _m('elasticsearch_indices_search_scroll_total', COUNTER, 'Total number of scrolls', 'indices.search.scroll_total'),
    _m('elasticsearch_indices_search_scroll_time_seconds', COUNTER, 'Total scroll time in seconds', 'indices.search.scroll_time_in_millis', scale=1000),
    _m('elasticsearch_indices_search_scroll_current', GAUGE, 'Number of scroll operations currently running', 'indices.search.scroll_current'),
    _m('elasticsearch_indices_docs', GAUGE, 'Count of documents on this node', 'indices.docs.count'),
    _m('elasticsearch_indices_docs_deleted', GAUGE, 'Count of deleted documents on this node', 'indices.docs.deleted'),
    _m('elasticsearch_indices_store_size_bytes', GAUGE, 'Current size of stored index data in bytes', 'indices.store.size_in_bytes'),
    _m('elasticsearch_indices_store_throttle_time_seconds_total', COUNTER, 'Throttle time for index store in seconds', 'indices.store.throttle_time_in_millis', scale=1000),
    _m('elasticsearch_indices_segments_memory_bytes', GAUGE, 'Current memory size of segments in bytes', 'indices.segments.memory_in_bytes'),
    _m('elasticsearch_indices_segments_count', GAUGE, 'Count of index segments on this node', 'indices.segments.count'),
    _m('elasticsearch_indices_segments_terms_memory_in_bytes', GAUGE, 'Count of terms in memory for this node', 'indices.segments.terms_memory_in_bytes'),
    _m('elasticsearch_indices_segments_index_writer_memory_in_bytes', GAUGE, 'Count of memory for index writer on this node', 'indices.segments.index_writer_memory_in_bytes'),
    _m('elasticsearch_indices_segments_norms_memory_in_bytes', GAUGE, 'Count of memory used by norms', 'indices.segments.norms_memory_in_bytes'),
    _m('elasticsearch_indices_segments_stored_fields_memory_in_bytes', GAUGE, 'Count of stored fields memory', 'indices.segments.stored_fields_memory_in_bytes'),
    _m('elasticsearch_indices_segments_doc_values_memory_in_bytes', GAUGE, 'Count of doc values memory', 'indices.segments.doc_values_memory_in_bytes'),
    _m('elasticsearch_indices_segments_fixed_bit_set_memory_in_bytes', GAUGE, 'Count of fixed bit set', 'indices.segments.fixed_bit_set_memory_in_bytes'),
    _m('elasticsearch_indices_segments_term_vectors_memory_in_bytes', GAUGE, 'Term vectors memory usage in bytes', 'indices.segments.term_vectors_memory_in_bytes'),
    _m('elasticsearch_indices_segments_points_memory_in_bytes', GAUGE, 'Point values memory usage in bytes', 'indices.segments.points_memory_in_bytes'),
    _m('elasticsearch_indices_segments_version_map_memory_in_bytes', GAUGE, 'Version map memory usage in bytes', 'indices.segments.version_map_memory_in_bytes'),
    _m('elasticsearch_indices_flush_total', COUNTER, 'Total flushes', 'indices.flush.total'),
    _m('elasticsearch_indices_flush_time_seconds', COUNTER, 'Cumulative flush time in seconds', 'indices.flush.total_time_in_millis', scale=1000),
    _m('elasticsearch_indices_warmer_total', COUNTER, 'Total warmer count', 'indices.warmer.total'),
    _m('elasticsearch_indices_warmer_time_seconds_total', COUNTER, 'Total warmer time in seconds', 'indices.warmer.total_time_in_millis', scale=1000),
    _m('elasticsearch_indices_indexing_index_time_seconds_total', COUNTER, 'Cumulative index time in seconds', 'indices.indexing.index_time_in_millis', scale=1000),
    _m('elasticsearch_indices_indexing_index_total', COUNTER, 'Total index calls', 'indices.indexing.index_total'),
    _m('elasticsearch_indices_indexing_delete_time_seconds_total', COUNTER, 'Total time indexing delete in seconds', 'indices.indexing.delete_time_in_millis', scale=1000),
    _m('elasticsearch_indices_indexing_delete_total', COUNTER, 'Total indexing deletes', 'indices.indexing.delete_total'),
    _m('elasticsearch_indices_indexing_is_throttled', GAUGE, 'Indexing throttling', 'indices.indexing.is_throttled'),
    _m('elasticsearch_indices_indexing_throttle_time_seconds_total', COUNTER, 'Cumulative indexing throttling time', 'indices.indexing.throttle_time_in_millis', scale=1000),
    _m('elasticsearch_indices_merges_total', COUNTER, 'Total merges', 'indices.merges.total'),
    _m('elasticsearch_indices_merges_current', GAUGE, 'Current merges', 'indices.merges.current'),
    _m('elasticsearch_indices_merges_current_size_in_bytes', GAUGE, 'Size of a current merges in bytes', 'indices.merges.current_size_in_bytes'),
    _m('elasticsearch_indices_merges_docs_total', COUNTER, 'Cumulative docs merged', 'indices.merges.total_docs'),
    _m('elasticsearch_indices_merges_total_size_bytes_total', COUNTER, 'Total merge size in bytes', 'indices.merges.total_size_in_bytes'),
    _m('elasticsearch_indices_merges_total_time_seconds_total', COUNTER, 'Total time spent merging in seconds', 'indices.merges.total_time_in_millis', scale=1000),
    _m('elasticsearch_indices_merges_total_throttled_time_seconds_total', COUNTER, 'Total throttled time of merges in seconds', 'indices.merges.total_throttled_time_in_millis', scale=1000),
    _m('elasticsearch_jvm_memory_used_bytes', GAUGE, 'JVM memory currently used by area', 'jvm.mem.heap_used_in_bytes', extra=('area', 'heap')),
    _m('elasticsearch_jvm_memory_used_bytes', GAUGE, 'JVM memory currently used by area', 'jvm.mem.non_heap_used_in_bytes', extra=('area', 'non-heap')),
    _m('elasticsearch_jvm_memory_max_bytes', GAUGE, 'JVM memory max', 'jvm.mem.heap_max_in_bytes', extra=('area', 'heap')),
    _m('elasticsearch_jvm_memory_committed_bytes', GAUGE, 'JVM memory currently committed by area', 'jvm.mem.heap_committed_in_bytes', extra=('area', 'heap')),
    _m('elasticsearch_jvm_memory_committed_bytes', GAUGE, 'JVM memory currently committed by area', 'jvm.mem.non_heap_committed_in_bytes', extra=('area', 'non-heap')),
    _m('elasticsearch_jvm_memory_pool_used_bytes', GAUGE, 'JVM memory currently used by pool', 'jvm.mem.pools.young.used_in_bytes', extra=('pool', 'young')),
    _m('elasticsearch_jvm_memory_pool_max_bytes', COUNTER, 'JVM memory max by pool', 'jvm.mem.pools.young.max_in_bytes', extra=('pool', 'young')),
    _m('elasticsearch_jvm_memory_pool_peak_used_bytes', COUNTER, 'JVM memory peak used by pool', 'jvm.mem.pools.young.peak_used_in_bytes', extra=('pool', 'young')),
    _m('elasticsearch_jvm_memory_pool_peak_max_bytes', COUNTER, 'JVM memory peak max by pool', 'jvm.mem.pools.young.peak_max_in_bytes', extra=('pool', 'young')),
    _m('elasticsearch_jvm_memory_pool_used_bytes', GAUGE, 'JVM memory currently used by pool', 'jvm.mem.pools.survivor.used_in_bytes', extra=('pool', 'survivor')),
    _m('elasticsearch_jvm_memory_pool_max_bytes', COUNTER, 'JVM memory max by pool', 'jvm.mem.pools.survivor.max_in_bytes', extra=('pool', 'survivor')),
    _m('elasticsearch_jvm_memory_pool_peak_used_bytes', COUNTER, 'JVM memory peak used by pool', 'jvm.mem.pools.survivor.peak_used_in_bytes', extra=('pool', 'survivor')),
    _m('elasticsearch_jvm_memory_pool_peak_max_bytes', COUNTER, 'JVM memory peak max by pool', 'jvm.mem.pools.survivor.peak_max_in_bytes', extra=('pool', 'survivor')),
    _m('elasticsearch_jvm_memory_pool_used_bytes', GAUGE, 'JVM memory currently used by pool', 'jvm.mem.pools.old.used_in_bytes', extra=('pool', 'old')),
    _m('elasticsearch_jvm_memory_pool_max_bytes', COUNTER, 'JVM memory max by pool', 'jvm.mem.pools.old.max_in_bytes', extra=('pool', 'old')),
    _m('elasticsearch_jvm_memory_pool_peak_used_bytes', COUNTER, 'JVM memory peak used by pool', 'jvm.mem.pools.old.peak_used_in_bytes', extra=('pool', 'old')),
    _m('elasticsearch_jvm_memory_pool_peak_max_bytes', COUNTER, 'JVM memory peak max by pool', 'jvm.mem.pools.old.peak_max_in_bytes', extra=('pool', 'old')),
    _m('elasticsearch_jvm_buffer_pool_used_bytes', GAUGE, 'JVM buffer currently used', 'jvm.buffer_pools.direct.used_in_bytes', extra=('type', 'direct')),
    _m('elasticsearch_jvm_buffer_pool_used_bytes', GAUGE, 'JVM buffer currently used', 'jvm.buffer_pools.mapped.used_in_bytes', extra=('type', 'mapped')),
    _m('elasticsearch_jvm_uptime_seconds', GAUGE, 'JVM process uptime in seconds', 'jvm.uptime_in_millis', scale=1000, extra=('type', 'mapped')),
    _m('elasticsearch_process_cpu_percent', GAUGE, 'Percent CPU used by process', 'process.cpu.percent'),
    _m('elasticsearch_process_mem_resident_size_bytes', GAUGE, 'Resident memory in use by process in bytes', 'process.mem.resident_in_bytes'),
    _m('elasticsearch_process_mem_share_size_bytes', GAUGE, 'Shared memory in use by process in bytes', 'process.mem.share_in_bytes'),
    _m('elasticsearch_process_mem_virtual_size_bytes', GAUGE, 'Total virtual memory used in bytes', 'process.mem.total_virtual_in_bytes'),
    _m('elasticsearch_process_open_files_count', GAUGE, 'Open file descriptors', 'process.open_file_descriptors'),
    _m('elasticsearch_process_max_files_descriptors', GAUGE, 'Max file descriptors', 'process.max_file_descriptors'),
    _m('elasticsearch_process_cpu_seconds_total', COUNTER, 'Process CPU time in seconds', 'process.cpu.total_in_millis', scale=1000),
    _m('elasticsearch_transport_rx_packets_total', COUNTER, 'Count of packets received', 'transport.rx_count'),
    _m('elasticsearch_transport_rx_size_bytes_total', COUNTER, 'Total number of bytes received', 'transport.rx_size_in_bytes'),
    _m('elasticsearch_transport_tx_packets_total', COUNTER, 'Count of packets sent', 'transport.tx_count'),
    _m('elasticsearch_transport_tx_size_bytes_total', COUNTER, 'Total number of bytes sent', 'transport.tx_size_in_bytes'),

)

#: ``gcCollectionMetrics``: one sample per ``jvm.gc.collectors`` entry, label ``gc``.
GC_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_jvm_gc_collection_seconds_count", COUNTER, "Count of JVM GC runs", "collection_count"),
    _m("elasticsearch_jvm_gc_collection_seconds_sum", COUNTER, "GC run time in seconds", "collection_time_in_millis", scale=1000),
)
#: ``breakerMetrics``: one sample per ``breakers`` entry, label ``breaker``.
BREAKER_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_breakers_estimated_size_bytes", GAUGE, "Estimated size in bytes of breaker", "estimated_size_in_bytes"),
    _m("elasticsearch_breakers_limit_size_bytes", GAUGE, "Limit size in bytes for breaker", "limit_size_in_bytes"),
    _m("elasticsearch_breakers_tripped", COUNTER, "tripped for breaker", "tripped"),
    _m("elasticsearch_breakers_overhead", COUNTER, "Overhead of circuit breakers", "overhead"),
)
#: ``indexingPressureMetrics``: one sample per ``indexing_pressure`` entry (labels
#: ``cluster, host, name, indexing_pressure`` — not the role labels).
INDEXING_PRESSURE_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_indexing_pressure_current_all_in_bytes", GAUGE, "Memory consumed, in bytes, by indexing requests in the coordinating, primary, or replica stage.", "current.all_in_bytes"),
    _m("elasticsearch_indexing_pressure_limit_in_bytes", GAUGE, "Configured memory limit, in bytes, for the indexing requests", "limit_in_bytes"),
)
#: ``threadPoolMetrics``: one sample per ``thread_pool`` entry, label ``type``.
THREAD_POOL_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_thread_pool_completed_count", COUNTER, "Thread Pool operations completed", "completed"),
    _m("elasticsearch_thread_pool_rejected_count", COUNTER, "Thread Pool operations rejected", "rejected"),
    _m("elasticsearch_thread_pool_active_count", GAUGE, "Thread Pool threads active", "active"),
    _m("elasticsearch_thread_pool_largest_count", GAUGE, "Thread Pool largest threads count", "largest"),
    _m("elasticsearch_thread_pool_queue_count", GAUGE, "Thread Pool operations queued", "queue"),
    _m("elasticsearch_thread_pool_threads_count", GAUGE, "Thread Pool current threads count", "threads"),
)
#: ``filesystemDataMetrics``: one sample per ``fs.data`` entry, labels ``mount``, ``path``.
FS_DATA_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_filesystem_data_available_bytes", GAUGE, "Available space on block device in bytes", "available_in_bytes"),
    _m("elasticsearch_filesystem_data_free_bytes", GAUGE, "Free space on block device in bytes", "free_in_bytes"),
    _m("elasticsearch_filesystem_data_size_bytes", GAUGE, "Size of block device in bytes", "total_in_bytes"),
)
#: ``filesystemIODeviceMetrics``: one sample per ``fs.io_stats.devices`` entry, label ``device``.
FS_IO_METRICS: tuple[Desc, ...] = (
    _m("elasticsearch_filesystem_io_stats_device_operations_count", COUNTER, "Count of disk operations", "operations"),
    _m("elasticsearch_filesystem_io_stats_device_read_operations_count", COUNTER, "Count of disk read operations", "read_operations"),
    _m("elasticsearch_filesystem_io_stats_device_write_operations_count", COUNTER, "Count of disk write operations", "write_operations"),
    _m("elasticsearch_filesystem_io_stats_device_read_size_kilobytes_sum", COUNTER, "Total kilobytes read from disk", "read_kilobytes"),
    _m("elasticsearch_filesystem_io_stats_device_write_size_kilobytes_sum", COUNTER, "Total kilobytes written to disk", "write_kilobytes"),
)

#: ``metrics`` of ``NewClusterHealth`` (cluster_health.go), label ``cluster``: (name, help, field).
HEALTH_METRICS: tuple[tuple[str, str, str], ...] = (
    ("elasticsearch_cluster_health_active_primary_shards", "The number of primary shards in your cluster. This is an aggregate total across all indices.", "active_primary_shards"),
    ("elasticsearch_cluster_health_active_shards", "Aggregate total of all shards across all indices, which includes replica shards.", "active_shards"),
    ("elasticsearch_cluster_health_delayed_unassigned_shards", "Shards delayed to reduce reallocation overhead", "delayed_unassigned_shards"),
    ("elasticsearch_cluster_health_initializing_shards", "Count of shards that are being freshly created.", "initializing_shards"),
    ("elasticsearch_cluster_health_number_of_data_nodes", "Number of data nodes in the cluster.", "number_of_data_nodes"),
    ("elasticsearch_cluster_health_number_of_in_flight_fetch", "The number of ongoing shard info requests.", "number_of_in_flight_fetch"),
    ("elasticsearch_cluster_health_task_max_waiting_in_queue_millis", "Tasks max time waiting in queue.", "task_max_waiting_in_queue_millis"),
    ("elasticsearch_cluster_health_number_of_nodes", "Number of nodes in the cluster.", "number_of_nodes"),
    ("elasticsearch_cluster_health_number_of_pending_tasks", "Cluster level changes which have not yet been executed", "number_of_pending_tasks"),
    ("elasticsearch_cluster_health_relocating_shards", "The number of shards that are currently moving from one node to another node.", "relocating_shards"),
    ("elasticsearch_cluster_health_unassigned_shards", "The number of shards that exist in the cluster state, but cannot be found in the cluster itself.", "unassigned_shards"),
)  # fmt: skip
HEALTH_STATUS = "elasticsearch_cluster_health_status"
HEALTH_STATUS_HELP = "Whether all primary and replica shards are allocated."
HEALTH_COLORS = ("green", "yellow", "red")  # ``colors`` in cluster_health.go
NODES_ROLES = "elasticsearch_nodes_roles"
NODES_ROLES_HELP = "Node roles"
#: legacy (see the module docstring): v1.8.0 nodes.go / v1.6.0 cluster_health.go.
NODE_STATS_UP = "elasticsearch_node_stats_up"
NODE_STATS_UP_HELP = "Was the last scrape of the Elasticsearch nodes endpoint successful."
CLUSTER_HEALTH_UP = "elasticsearch_cluster_health_up"
CLUSTER_HEALTH_UP_HELP = "Was the last scrape of the Elasticsearch cluster health endpoint successful."

# fmt: on
