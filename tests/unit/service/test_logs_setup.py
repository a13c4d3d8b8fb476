"""The service's log setup keeps the client's node-pool chatter out of the JSON log.

elastic_transport marks a node dead, with a WARNING, on every answer it does not count as
healthy — including the 408 of an unmet ``_cluster/health`` wait, which the operations runner
gets several times a minute while shards rebalance. In an SRE's log that reads as a failing
cluster. Our own events report real failures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from autoscaler.service.logs import setup_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("elastic_transport.node_pool", "elastic_transport.transport", "aiohttp.access")
    levels = {n: logging.getLogger(n).level for n in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for n, lvl in levels.items():
        logging.getLogger(n).setLevel(lvl)


def test_node_pool_dead_node_warnings_stay_out_of_the_service_log(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO")
    logging.getLogger("elastic_transport.node_pool").warning(
        "Node <AiohttpHttpNode(https://es:9200)> has failed for 1 times in a row, putting on 1 second timeout"
    )
    logging.getLogger("autoscaler.signals.poller").warning("es_poll_failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["logger"], e["event"]) for e in lines] == [
        ("autoscaler.signals.poller", "es_poll_failed")
    ]
