"""Elasticsearch error responses of the twin: the exception and the builders of its usual kinds.

Every ES error body has the same shape (``error.root_cause``, ``type``, ``reason``,
``caused_by``, ``status``); one class renders it so no handler assembles one by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def validation_failed(problems: Sequence[str]) -> EsError:
    """ES's ``action_request_validation_exception``: ``Validation Failed: 1: a;2: b;``."""
    return EsError(
        400,
        "action_request_validation_exception",
        "Validation Failed: " + "".join(f"{i + 1}: {m};" for i, m in enumerate(problems)),
    )


class EsError(Exception):
    """An Elasticsearch error response; ``es_api`` renders it with the real body shape."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str | None,
        *,
        meta: Mapping[str, Any] | None = None,
        caused_by: EsError | None = None,
        simple: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.meta = dict(meta or {})
        self.caused_by = caused_by
        self.simple = simple  # body {"error": "<reason>", "status": N}
        self.headers = dict(headers or {})

    def _obj(self, with_cause: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "reason": self.reason, **self.meta}
        if with_cause and self.caused_by is not None:
            d["caused_by"] = self.caused_by._obj(True)
        return d

    def body(self) -> dict[str, Any]:
        if self.simple:
            return {"error": self.reason, "status": self.status}
        root: EsError = self
        err: dict[str, Any] = self._obj(True)
        return {"error": {"root_cause": [root._obj(False)], **err}, "status": self.status}


def illegal_argument(reason: str, *, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "illegal_argument_exception", reason, caused_by=caused_by)
