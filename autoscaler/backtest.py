"""Back-test: replay recorded tier metrics (and alerts) through the real engine, offline.

Ops rehearse a policy on last week's metrics before it touches production. This module is the
only code path for that, and the golden scenario tests run through it too. It reads text
(CSV, JSON lines) handed to it and simulates operations that are confirmed a fixed time after
they start; it never talks to a cluster.
"""

from __future__ import annotations

import csv
import itertools
import json
import operator
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autoscaler.core.alerts import (
    AlertBook,
    PayloadError,
    WebhookPayload,
    parse_timestamp,
    parse_webhook,
)
from autoscaler.core.durations import format_duration
from autoscaler.core.engine import DEFAULT_ALERT_TTL, Decision, TargetState, decide, may_act
from autoscaler.core.observations import MetricKey, Observations
from autoscaler.core.policy import AGGREGATES, METRICS, Policy


class InputError(ValueError):
    """Bad back-test input, with the file and line it was found on."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


def parse_time(text: str) -> float:
    """Epoch seconds or RFC 3339."""
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        return parse_timestamp(s)


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class MetricsTable:
    times: tuple[float, ...]
    observations: Observations
    keys: tuple[MetricKey, ...] = ()
    """The CSV's columns after ``timestamp`` (a column may be there with every cell empty)."""


_SEEN_LIMIT = 1 << 16
_CHUNK = 2048
_COMMAS = operator.methodcaller("count", ",")


def _lines(text: str) -> Iterator[str]:
    """``text`` line by line, split at ``\\n`` only and ends kept (what ``io.StringIO(text)``
    yields, without its copy of the whole text)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def parse_metrics_csv(source: str | Iterable[str], *, file: str = "metrics.csv") -> MetricsTable:
    """CSV: ``timestamp`` then ``<metric>.<aggregate>`` columns; an empty cell is a missing sample.

    ``source`` is the text, or its lines (a file opened with ``newline=""``, read as it goes).
    """
    source_lines = _lines(source) if isinstance(source, str) else iter(source)
    reader = csv.reader(source_lines)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            file, 1, "empty file: expected a header 'timestamp,<metric>.<aggregate>,...'"
        ) from None
    header = [h.strip() for h in header]
    if not header or header[0] != "timestamp":
        raise InputError(
            file, 1, f"first column must be 'timestamp', got {header[0] if header else ''!r}"
        )
    keys: list[MetricKey] = []
    for col in header[1:]:
        metric, _, agg = col.partition(".")
        if metric not in METRICS or agg not in AGGREGATES:
            raise InputError(
                file,
                1,
                f"unknown column {col!r}: use <metric>.<aggregate> with metric in "
                f"{', '.join(METRICS)} and aggregate in {', '.join(AGGREGATES)}",
            )
        keys.append((metric, agg))
    if len(set(keys)) != len(keys):
        raise InputError(file, 1, "duplicate column")
    # Column-wise, not a dict per row: a month at 10 s is 259,200 rows (DESIGN §9 bench).
    times: list[float] = []
    columns: list[list[float | None]] = [[] for _ in keys]
    last: float | None = None
    width = len(header)
    # Metrics repeat (one decimal, 0–100 %): one float object per distinct cell text instead
    # of one per cell keeps a month's table in a quarter of the memory, and skips float().
    seen: dict[str, float] = {}

    def one_row(row: list[str], line: int) -> None:
        """The reference reading of one row (skips blank rows; errors name the line)."""
        nonlocal last
        if len(row) != width:
            if not row or all(not c.strip() for c in row):
                return
            raise InputError(file, line, f"expected {len(header)} cells, got {len(row)}")
        try:
            at = float(row[0])  # the common case, epoch seconds (float() ignores whitespace)
        except ValueError:
            if all(not c.strip() for c in row):
                return
            try:
                at = parse_time(row[0])
            except ValueError:
                raise InputError(
                    file, line, f"unparsable timestamp {row[0]!r} (use RFC 3339 or epoch seconds)"
                ) from None
        if last is not None and at <= last:
            raise InputError(file, line, f"timestamp {row[0]!r} is not after the previous row")
        last = at
        times.append(at)
        for key, column, cell in zip(keys, columns, row[1:], strict=True):
            value = seen.get(cell)
            if value is None:
                try:
                    value = float(cell)  # float() ignores surrounding whitespace itself
                except ValueError:
                    cell = cell.strip()
                    if cell:
                        raise InputError(
                            file, line, f"{key[0]}.{key[1]}: {cell!r} is not a number"
                        ) from None
                    column.append(None)
                    continue
                if len(seen) < _SEEN_LIMIT:
                    seen[cell] = value
            column.append(value)

    def whole_chunk(chunk: list[list[str]]) -> bool:
        """Read a chunk of ordinary rows column by column (C-level maps); ``False``, having
        changed nothing but the ``seen`` cache, when any row needs ``one_row``."""
        if set(map(len, chunk)) != {width}:
            return False
        return whole_columns(list(zip(*chunk, strict=True)))

    def whole_block(block: list[str]) -> bool:
        """``whole_chunk`` of a block of lines without the csv module, when they are plain:
        no quote (so each line is one row and a comma always separates cells), no NUL, line
        ends ``\n`` or ``\r\n``, and every line has the header's number of cells. Then the
        block's cells are one ``str.split`` and each column a slice of it (no list per row)."""
        text = "".join(block)
        if '"' in text or "\0" in text:
            return False
        if "\r" in text:
            if text.count("\r") != text.count("\r\n"):
                return False
            text = text.replace("\r\n", "\n")
        if set(map(_COMMAS, block)) != {width - 1}:
            return False
        flat = text.removesuffix("\n").replace("\n", ",").split(",")
        if len(flat) != len(block) * width:
            return False
        return whole_columns([flat[j::width] for j in range(width)])

    def whole_columns(cells: list[Sequence[str]]) -> bool:
        """The cells of ordinary rows, one sequence per column, read column by column."""
        nonlocal last
        try:
            at = list(map(float, cells[0]))
        except ValueError:
            return False
        if (last is not None and not at[0] > last) or any(map(operator.le, at[1:], at)):
            return False
        values: list[list[float | None]] = []
        for column in cells[1:]:
            got: list[float | None] = list(map(seen.get, column))
            i = -1
            while True:  # the cells not seen yet (or blank: missing, None)
                try:
                    i = got.index(None, i + 1)
                except ValueError:
                    break
                try:
                    got[i] = value = float(column[i])
                except ValueError:
                    if column[i].strip():
                        return False  # not a number: one_row names it
                    continue
                if len(seen) < _SEEN_LIMIT:
                    seen[column[i]] = value
            values.append(got)
        times.extend(at)
        for column_values, got in zip(columns, values, strict=True):
            column_values.extend(got)
        last = at[-1]
        return True

    consumed = reader.line_num  # lines read so far (the header's)
    while True:  # plain blocks of lines, as long as they come
        block = list(itertools.islice(source_lines, _CHUNK))
        if not block:
            break
        if whole_block(block):
            consumed += len(block)
            continue
        # Something unusual (quotes, a blank or short line, a bad number, ...): the csv
        # reader from here to the end (a quoted cell may span lines), rows in chunks, and
        # any chunk with an odd row row by row, with its line numbers.
        reader = csv.reader(itertools.chain(block, source_lines))
        while True:
            chunk: list[list[str]] = []
            lines: list[int] = []
            for row in itertools.islice(reader, _CHUNK):
                chunk.append(row)
                lines.append(consumed + reader.line_num)
            if not chunk:
                break
            if not whole_chunk(chunk):
                for row, line in zip(chunk, lines, strict=True):
                    one_row(row, line)
        break
    if not times:
        raise InputError(file, 2, "no data rows")
    polls = tuple(times)  # one tuple for the table and the observations (from_columns keeps it)
    times.clear()
    return MetricsTable(
        polls,
        Observations.from_columns(polls, dict(zip(keys, columns, strict=True))),
        tuple(keys),
    )


def parse_alerts_jsonl(
    text: str, *, file: str = "alerts.jsonl"
) -> list[tuple[float, WebhookPayload]]:
    """JSON lines ``{"at": <timestamp>, "payload": <Alertmanager v4 webhook body>}`` in time order."""
    out: list[tuple[float, WebhookPayload]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(file, n, f"invalid JSON: {e.msg}") from None
        if not isinstance(obj, dict) or "at" not in obj or "payload" not in obj:
            raise InputError(file, n, 'expected {"at": <timestamp>, "payload": {...}}')
        try:
            at = parse_time(str(obj["at"]))
        except ValueError:
            raise InputError(file, n, f"unparsable timestamp {obj['at']!r}") from None
        try:
            payload = parse_webhook(obj["payload"])
        except PayloadError as e:
            raise InputError(file, n, f"{e}: {'; '.join(e.problems)}") from None
        if out and at < out[-1][0]:
            raise InputError(file, n, "alerts must be in time order")
        out.append((at, payload))
    return out


@dataclass(frozen=True)
class Settings:
    replicas: int | None = None
    confirm_after: float = 0.0
    poll_interval: float | None = None
    alert_ttl: float = DEFAULT_ALERT_TTL


@dataclass
class Result:
    actions: list[Decision] = field(default_factory=list)
    last: Decision | None = None
    final_replicas: int = 0
    node_hours: float = 0.0
    poll_interval: float = 0.0
    staleness: float = 0.0
    start: float = 0.0
    end: float = 0.0

    @property
    def scale_ups(self) -> int:
        return sum(1 for d in self.actions if d.action == "scale_up")

    @property
    def scale_downs(self) -> int:
        return sum(1 for d in self.actions if d.action == "scale_down")

    def summary(self) -> dict[str, Any]:
        return {
            "scale_ups": self.scale_ups,
            "scale_downs": self.scale_downs,
            "node_hours": round(self.node_hours, 3),
            "final_replicas": self.final_replicas,
        }


def median_spacing(times: tuple[float, ...]) -> float:
    if len(times) < 2:
        return 10.0
    return float(statistics.median(b - a for a, b in itertools.pairwise(times)))


def run(
    policy: Policy,
    table: MetricsTable,
    alerts: list[tuple[float, WebhookPayload]],
    settings: Settings,
) -> Result:
    """Replay: evaluate the engine at every sample time; simulate operations and confirmations.

    Replicas change when an operation is confirmed, ``confirm_after`` after it started; while
    it runs no decision is taken. Node-hours integrate the replica count over the CSV's span.
    """
    poll = settings.poll_interval or median_spacing(table.times)
    staleness = policy.elasticsearch.staleness_for(poll)
    replicas = settings.replicas if settings.replicas is not None else policy.replicas.min
    result = Result(
        poll_interval=poll, staleness=staleness, start=table.times[0], end=table.times[-1]
    )
    book = AlertBook()
    pending = iter(alerts)
    next_alert = next(pending, None)
    last_confirmed: float | None = None
    running: tuple[float, int] | None = None  # (confirm at, to replicas)
    would: tuple[str, int | None, int | None] | None = None  # last dry-run action recorded
    node_seconds = 0.0
    prev_t = table.times[0]
    state_key: tuple[int, bool, float | None] | None = None
    state = TargetState(None)

    observations, end, alert_ttl = table.observations, result.end, settings.alert_ttl
    for now in table.times:  # ~10⁵–10⁶ samples: the per-sample work is kept to the minimum
        while next_alert is not None and next_alert[0] <= now:
            book = book.apply(next_alert[1], received_at=next_alert[0])
            next_alert = next(pending, None)
        if running is not None and running[0] <= now:
            # node-hours: replicas × time, accumulated sample by sample (and at confirmations)
            node_seconds += replicas * (running[0] - prev_t)
            prev_t = running[0]
            replicas, last_confirmed, running = running[1], running[0], None
        node_seconds += replicas * (now - prev_t)
        prev_t = now
        if (replicas, running is not None, last_confirmed) != state_key:
            state_key = (replicas, running is not None, last_confirmed)
            state = TargetState(*state_key)
        if now != end and not may_act(
            policy, observations, book, state, now, staleness=staleness, alert_ttl=alert_ttl
        ):
            would = None  # decide() would hold; explained in full only at the last sample
            continue
        decision = decide(
            policy,
            table.observations,
            book,
            state,
            now,
            staleness=staleness,
            alert_ttl=settings.alert_ttl,
        )
        result.last = decision
        if decision.action == "none" or decision.to_replicas is None:
            would = None
            continue
        if not decision.act:
            # dry-run: recorded, never carried out; the same would-be action is recorded once
            # per episode (as the service's decision log does), not at every sample
            key = (decision.action, decision.from_replicas, decision.to_replicas)
            if key != would:
                result.actions.append(decision)
            would = key
            continue
        result.actions.append(decision)
        if settings.confirm_after <= 0:
            replicas, last_confirmed = decision.to_replicas, now
        else:
            running = (now + settings.confirm_after, decision.to_replicas)
    if running is not None and running[0] <= table.times[-1]:
        replicas = running[1]
    result.final_replicas = replicas
    result.node_hours = node_seconds / 3600
    return result


def json_lines(result: Result) -> Iterator[str]:
    """The ``--format json`` output: one line per action, then the summary."""
    for d in result.actions:
        yield json.dumps(
            {
                "at": rfc3339(d.at),
                "action": d.action,
                "from": d.from_replicas,
                "to": d.to_replicas,
                "reasons": [r.to_dict() for r in d.reasons],
            }
        )
    yield json.dumps({"summary": result.summary()})


def text_lines(policy: Policy, result: Result) -> Iterator[str]:
    """A readable timeline."""
    yield f"policy {policy.describe()}"
    yield (
        f"replayed {rfc3339(result.start)} → {rfc3339(result.end)} "
        f"({format_duration(result.end - result.start)}), poll every "
        f"{format_duration(result.poll_interval)}, stale after {format_duration(result.staleness)}"
    )
    if not result.actions:
        yield "no scaling actions"
    for d in result.actions:
        arrow = "▲" if d.action == "scale_up" else "▼"
        why = ", ".join(str(r) for r in d.reasons)
        yield f"  {rfc3339(d.at)}  {arrow} {d.action:<10} {d.from_replicas:>2} → {d.to_replicas:<2}  {why}"
    if result.last is not None and result.last.action == "none":
        why = ", ".join(str(r) for r in result.last.reasons) or "no condition holds"
        yield f"  at the end: holding at {result.final_replicas} replicas: {why}"
    s = result.summary()
    yield (
        f"summary: {s['scale_ups']} scale-up(s), {s['scale_downs']} scale-down(s), "
        f"{s['node_hours']:g} node-hours, final replicas {s['final_replicas']}"
    )
