"""Signals in: Alertmanager webhooks and Elasticsearch node stats, turned into observations."""
