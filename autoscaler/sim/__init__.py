"""The digital twin: a simulated Elasticsearch cluster and Kubernetes API server.

Neither server can be installed where we develop and test, so the twin speaks their real
REST protocols to the real clients (``elasticsearch[async]``, ``kubernetes-asyncio``,
``kubectl``). Ops also use it to rehearse policies, so it is production code.
"""
