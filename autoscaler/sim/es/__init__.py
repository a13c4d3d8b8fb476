"""The Elasticsearch half of the twin, one concept per module.

Model: ``cluster.Cluster`` is assembled from ``core`` (state), ``settings``, ``deciders``,
``allocator``, ``explain``, ``shutdown``, ``coordination`` and ``health`` mixins, over the
records of ``shards`` and the pure helpers of ``config``, ``units`` and ``errors``.
Wire: ``api/`` holds the REST handlers, one file per API family, and ``api.routes`` wires them.
"""
