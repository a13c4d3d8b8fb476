"""JSON logs: one line per event, machine-parsable, never carrying secrets.

Every log call passes a short event name as the message and its facts as ``extra={"fields":
{...}}``; this formatter renders ``{"ts", "level", "logger", "event", ...fields}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "elastic_transport.transport"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The node pool warns "Node … has failed … putting on 1 second timeout" for every non-2xx
    # it does not know as healthy — including the 408 that an unmet `_cluster/health` wait
    # answers, several times a minute while shards rebalance. Real failures are reported by
    # our own events (es_poll_failed with a reason, operation failures).
    logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)


def fields(**kw: Any) -> dict[str, Any]:
    """``log.info("event", extra=fields(a=1))``."""
    return {"fields": kw}
