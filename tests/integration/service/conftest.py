"""Fixtures for service tests (helpers live in ``_service_kit``)."""

from _service_kit import twin

__all__ = ["twin"]
