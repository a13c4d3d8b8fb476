"""Elasticsearch's value formats: byte sizes, time values, ISO timestamps, ids and globs.

The wire must print ``36.4mb`` and ``1.5m`` exactly as ``ByteSizeValue``/``TimeValue`` do and
parse ``30s`` as the server would; the model and every API file share these.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache

from autoscaler.sim.es.errors import illegal_argument


def _format1(value: float, suffix: str) -> str:
    p = repr(float(value))
    if "e" in p or "E" in p:
        return f"{value:.1f}{suffix}"
    whole, _, frac = p.partition(".")
    if not frac or frac[0] == "0":
        return whole + suffix
    return f"{whole}.{frac[0]}{suffix}"


def format_bytes(n: float) -> str:
    """Elasticsearch ``ByteSizeValue.toString``: ``"36.4mb"``, ``"208b"``, ``"1gb"``."""
    n = int(n)
    for unit, mult in (("pb", 2**50), ("tb", 2**40), ("gb", 2**30), ("mb", 2**20), ("kb", 2**10)):
        if n >= mult:
            return _format1(n / mult, unit)
    return f"{n}b"


def format_time(ms: float) -> str:
    """Elasticsearch ``TimeValue.toString`` for a duration in milliseconds."""
    if ms <= 0:
        return "0s"
    for unit, mult in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= mult:
            return _format1(ms / mult, unit)
    return _format1(ms, "ms")


_TIME_UNITS = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_time_value(text: str, setting: str) -> float:
    """Parse a time value like Elasticsearch 8.x (``30s``, ``100ms``, ``0``, ``-1``) → seconds."""
    t = text.strip()
    if t in ("0", "-1"):
        return float(t)
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)", t.lower())
    if not m:
        raise illegal_argument(
            f"failed to parse setting [{setting}] with value [{text}] as a time value: "
            "unit is missing or unrecognized"
        )
    if "." in m.group(1):
        raise illegal_argument(
            f"failed to parse [{text}], fractional time values are not supported"
        )
    v = int(m.group(1))
    if v < 0 and v != -1:
        raise illegal_argument(
            f"failed to parse setting [{setting}] with value [{text}] as a time value: "
            "negative durations are not supported"
        )
    return v * _TIME_UNITS[m.group(2)]


def iso_ms(t: float) -> str:
    return (
        datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(t * 1000) % 1000:03d}Z"
    )


@lru_cache(maxsize=1024)
def glob_rx(pattern: str) -> re.Pattern[str]:
    """A ``*`` wildcard pattern (index names, attribute values, ``filter_path`` keys), compiled
    once."""
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


def b64id(*parts: object) -> str:
    """A stable ES-looking id (node, index, cluster, allocation) derived from the seed."""
    h = hashlib.sha1(":".join(str(p) for p in parts).encode()).digest()
    return base64.urlsafe_b64encode(h[:16]).decode().rstrip("=")
