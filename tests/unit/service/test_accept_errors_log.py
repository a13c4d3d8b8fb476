"""At the fd limit asyncio's accept loop logs thousands of lines a second (issue 9 item 8):
the service lets one through a minute, with how many it held back."""

from __future__ import annotations

import logging

import pytest

from autoscaler.service.limits import AcceptErrorsRateLimited


def test_repeated_accept_errors_are_logged_once_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("asyncio.test-accept")
    flt = AcceptErrorsRateLimited(every=60)
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio.test-accept"):
            for _ in range(5000):
                logger.error("socket.accept() out of system resource")
            logger.error("something else entirely")
    finally:
        logger.removeFilter(flt)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "socket.accept() out of system resource",
        "something else entirely",
    ]
    assert flt.suppressed == 4999
