"""``metav1.Time`` / ``metav1.MicroTime`` encoding and kubectl's human durations (§1.3).

MicroTime is parsed strictly (six fractional digits) exactly like the apiserver, because
clients that send whole-second ISO strings get a 400 in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# --------------------------------------------------------------------------------------------
# Time formats (§1.3)
# --------------------------------------------------------------------------------------------

_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def format_time(t: float) -> str:
    """``metav1.Time``: UTC, whole seconds."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: float) -> str:
    """``metav1.MicroTime``: UTC, exactly six fractional digits."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> float:
    """Lenient RFC 3339 (``metav1.Time`` decoding)."""
    if not _TIME_RE.match(value):
        raise ValueError(
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}"'
        )
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_micro_time(value: str) -> float:
    """Strict ``metav1.MicroTime`` decoding: six fractional digits or a 400."""
    m = _MICRO_RE.match(value)
    if m is None:
        rest = value[19:] if len(value) > 19 else value
        expected = ".000000" if len(value) > 19 and value[19:20] in ".Z+-" else _MICRO_LAYOUT
        raise ValueError(
            f'parsing time "{value}" as "{_MICRO_LAYOUT}": cannot parse "{rest}" as "{expected}"'
        )
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration`` (the Age column)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"
