"""Human durations (``30s``, ``5m``, ``2h``, ``1h30m``) as ops write them in policy files.

One parser and one formatter, so a duration reads the same in a policy file, a decision
reason, the CLI and the API.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``"90s"``, ``"5m"``, ``"1h30m"``); ValueError with a hint if malformed."""
    s = text.strip()
    if not s or not _WHOLE.match(s):
        raise ValueError(
            f"invalid duration {text!r}: use a number with a unit, e.g. 30s, 5m, 2h or 1h30m"
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``300`` → ``5m``, ``5400`` → ``1h30m``, ``12.53`` → ``12.5s``.

    Fractions are kept to a tenth of a second under a minute and dropped above it."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    if whole != seconds:
        if seconds < 59.95:
            return f"{round(seconds, 1):g}s"
        return format_duration(float(round(seconds)))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            count, whole = divmod(whole, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)
