"""Fixtures for service tests (helpers live in ``tests/support/service_kit.py``)."""

from service_kit import twin

__all__ = ["twin"]
