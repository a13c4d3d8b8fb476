"""Every Elasticsearch call the autoscaler makes: ``client`` (construction, retries, version
compatibility), ``stats`` (polling) and ``admin`` (what the operations change and wait for)."""
