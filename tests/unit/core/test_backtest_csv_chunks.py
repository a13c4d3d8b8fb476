"""The back-test's CSV reader reads a month fast and still reads every file as before.

``parse_metrics_csv`` reads ordinary rows a chunk at a time, column by column, and hands any
chunk with something unusual (a blank line, a short row, an RFC 3339 time, a bad number, a
time going backwards) to the row-by-row reader. ``reference`` below is the reader as it was
before (one dict per row, ``Observations.from_rows``): on generated files a few chunks long,
with the unusual things sprinkled anywhere, both give the same table or the same error.
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from autoscaler.backtest import InputError, MetricsTable, parse_metrics_csv, parse_time
from autoscaler.core.observations import MetricKey, Observations

HEADER = "timestamp,cpu.avg,cpu.max,heap.avg"
KEYS: list[MetricKey] = [("cpu", "avg"), ("cpu", "max"), ("heap", "avg")]


def reference(text: str, file: str = "metrics.csv") -> MetricsTable:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader)]
    rows: list[tuple[float, dict[MetricKey, float | None]]] = []
    last: float | None = None
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(file, line, f"expected {len(header)} cells, got {len(row)}")
        try:
            at = parse_time(row[0])
        except ValueError:
            raise InputError(
                file, line, f"unparsable timestamp {row[0]!r} (use RFC 3339 or epoch seconds)"
            ) from None
        if last is not None and at <= last:
            raise InputError(file, line, f"timestamp {row[0]!r} is not after the previous row")
        last = at
        values: dict[MetricKey, float | None] = {}
        for key, cell in zip(KEYS, row[1:], strict=True):
            cell = cell.strip()
            if not cell:
                values[key] = None
                continue
            try:
                values[key] = float(cell)
            except ValueError:
                raise InputError(
                    file, line, f"{key[0]}.{key[1]}: {cell!r} is not a number"
                ) from None
        rows.append((at, values))
    if not rows:
        raise InputError(file, 2, "no data rows")
    return MetricsTable(tuple(r[0] for r in rows), Observations.from_rows(rows))


ODDITIES = [
    "",  # blank line
    ",,,",  # blank cells only
    "{t},1,2",  # short row
    "{t},x,2,3",  # not a number
    "{iso},4,5,6",  # RFC 3339 timestamp
    "{t}, 7 ,, 8.5",  # spaces and a missing cell
    "{back},1,2,3",  # time going backwards
    '{t},"4",5,6',  # a quoted cell
    '{t},"4\n",5,6',  # a quoted cell over two lines (float() ignores the line end)
    "{t},1,2,3\r",  # a line ending in CR alone
]


def _text(seed: int, rows: int, oddities: list[tuple[int, int]]) -> str:
    rnd = random.Random(seed)
    at = dict(oddities)
    lines = [HEADER]
    t = 1_785_456_000
    for i in range(rows):
        t += 10
        if i in at:
            iso = f"2026-08-01T00:00:{i % 60:02d}Z"
            lines.append(ODDITIES[at[i]].format(t=t, iso=iso, back=t - 100))
            continue
        cells = [f"{rnd.randint(0, 1000) / 10:.1f}" if rnd.random() > 0.01 else "" for _ in KEYS]
        lines.append(f"{t}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def _outcome(fn: object, text: object) -> object:
    try:
        table = fn(text)  # type: ignore[operator]
    except InputError as e:
        return str(e)
    return (table.times, table.observations)


@settings(max_examples=25, deadline=None)
@example(seed=1, rows=2100, oddities=[(2048, 6)])  # time going back across a chunk boundary
@example(seed=2, rows=4500, oddities=[(2047, 0), (4095, 2)])  # odd rows ending a chunk
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 5000),
    oddities=st.lists(
        st.tuples(st.integers(0, 4999), st.integers(0, len(ODDITIES) - 1)), max_size=3
    ),
)
def test_chunked_csv_reading_equals_the_row_by_row_reference(
    seed: int, rows: int, oddities: list[tuple[int, int]]
) -> None:
    text = _text(seed, rows, oddities)
    assert _outcome(parse_metrics_csv, text) == _outcome(reference, text)


@settings(max_examples=15, deadline=None)
@example(seed=3, rows=2100, oddities=[], crlf=False)  # plain blocks only (str.split)
@example(seed=4, rows=4500, oddities=[(3000, 7)], crlf=True)  # plain, then csv from a quote
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 5000),
    oddities=st.lists(
        st.tuples(st.integers(0, 4999), st.integers(0, len(ODDITIES) - 1)), max_size=3
    ),
    crlf=st.booleans(),
)
def test_a_file_read_as_it_goes_gives_the_reference_table_or_error(
    seed: int, rows: int, oddities: list[tuple[int, int]], crlf: bool
) -> None:
    """What ``backtest`` does: the lines of a file opened with ``newline=""`` (plain blocks
    split with ``str`` methods, anything unusual from there on by the csv module), with
    ``\n`` or ``\r\n`` line ends: the same table, or the same error at the same line."""
    text = _text(seed, rows, oddities)
    if crlf:
        text = text.replace("\n", "\r\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        path.write_bytes(text.encode())
        with path.open(encoding="utf-8", newline="") as f:
            got = _outcome(lambda lines: parse_metrics_csv(lines, file="metrics.csv"), f)
    assert got == _outcome(reference, text)
