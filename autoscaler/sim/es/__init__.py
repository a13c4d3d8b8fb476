"""The Elasticsearch half of the twin, one concept per module.

Model: ``cluster.Cluster`` is assembled from mixins — ``core`` (state), ``settings`` (cluster
settings), ``deciders``, ``allocator``, ``explain``, ``shutdown``, ``coordination`` (voting
configuration, quorum, master), ``health``, ``indices`` (index settings, replicas, failed
allocations) and ``diskmonitor`` (flood-stage blocks) — over the records of ``shards`` and the
pure helpers of ``config``, ``units`` and ``errors``.
Wire: ``api/`` holds the REST handlers, one file per API family (``cat``, ``nodes``, ``health``,
``health_report``, ``cluster``, ``allocation``, ``indices``), and ``api.routes`` wires them.
Behaviour notes with their sources: ``tests/fixtures/elasticsearch/BEHAVIOUR.md``.
"""
