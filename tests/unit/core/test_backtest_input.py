"""``es-autoscaler backtest`` through ``autoscaler.cli.main``: the acceptance case, and bad
input (CSV, alerts JSON lines) → exit 2 with ``FILE:LINE: message``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscaler.cli import main

ACCEPTANCE_POLICY = """\
name: acceptance
target: {statefulSet: {namespace: elastic, name: es-data}}
replicas: {min: 1, max: 5}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80, for: 5m}
  step: 1
  cooldown: 10m
"""
T0 = 1767225600  # 2026-01-01T00:00:00Z


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(ACCEPTANCE_POLICY)
    return p


@pytest.fixture
def csv_85(tmp_path: Path) -> Path:
    """A sample every 10 s for 30 min, cpu.avg 85 throughout (epoch-second timestamps)."""
    p = tmp_path / "metrics.csv"
    rows = [f"{T0 + t},85" for t in range(0, 1801, 10)]
    p.write_text("timestamp,cpu.avg\n" + "\n".join(rows) + "\n")
    return p


def backtest(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_acceptance_cpu_85_for_30m_scales_at_5m_and_16m_then_at_max(
    capsys, policy: Path, csv_85: Path
) -> None:
    args = ["--policy", str(policy), "--metrics", str(csv_85), "--replicas", "3",
            "--confirm-after", "1m"]  # fmt: skip
    code, out, err = backtest(capsys, *args, "--format", "json")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["at"], d["action"], d["from"], d["to"]) for d in lines[:-1]] == [
        ("2026-01-01T00:05:00Z", "scale_up", 3, 4),
        ("2026-01-01T00:16:00Z", "scale_up", 4, 5),
    ]
    assert lines[-1]["summary"]["final_replicas"] == 5

    code, out, _ = backtest(capsys, *args)
    assert code == 0
    text = out.splitlines()
    assert [line for line in text if "▲" in line or "▼" in line] == [
        "  2026-01-01T00:05:00Z  ▲ scale_up    3 → 4   sustained(up; avg cpu > 80% for 5m)",
        "  2026-01-01T00:16:00Z  ▲ scale_up    4 → 5   sustained(up; avg cpu > 80% for 5m)",
    ]
    assert (
        "  at the end: holding at 5 replicas: sustained(up; avg cpu > 80% for 5m), at_max(up; max 5)"
        in text
    )


def test_policy_file_with_several_policies_needs_name(tmp_path: Path, capsys, csv_85) -> None:
    p = tmp_path / "two.yaml"
    p.write_text(ACCEPTANCE_POLICY + "---\n" + ACCEPTANCE_POLICY.replace("acceptance", "other"))
    code, _, err = backtest(capsys, "--policy", str(p), "--metrics", str(csv_85))
    assert code == 2
    assert "--name" in err
    code, _, _ = backtest(capsys, "--policy", str(p), "--metrics", str(csv_85), "--name", "other")
    assert code == 0
    code, _, err = backtest(capsys, "--policy", str(p), "--metrics", str(csv_85), "--name", "x")
    assert code == 2
    assert "no policy named 'x'" in err


CSV_ERRORS = {
    "unknown_column": (
        "timestamp,cpu.avg,ram.avg\n0,1,2\n",
        1,
        "unknown column 'ram.avg'",
    ),
    "unknown_aggregate": ("timestamp,cpu.mean\n0,1\n", 1, "unknown column 'cpu.mean'"),
    "first_column_not_timestamp": ("time,cpu.avg\n0,1\n", 1, "first column must be 'timestamp'"),
    "duplicate_column": ("timestamp,cpu.avg,cpu.avg\n0,1,2\n", 1, "duplicate column"),
    "unparsable_timestamp": (
        "timestamp,cpu.avg\n2026-01-01T00:00:00Z,1\nyesterday,2\n",
        3,
        "unparsable timestamp 'yesterday'",
    ),
    "timestamp_without_zone": (
        "timestamp,cpu.avg\n2026-01-01T00:00:00,1\n",
        2,
        "unparsable timestamp",
    ),
    "non_monotonic_timestamps": (
        "timestamp,cpu.avg\n0,1\n10,1\n20,1\n15,1\n",
        5,
        "timestamp '15' is not after the previous row",
    ),
    "repeated_timestamp_after_blank_line": (
        "timestamp,cpu.avg\n0,1\n\n0,1\n",
        4,
        "timestamp '0' is not after the previous row",
    ),
    "wrong_cell_count": ("timestamp,cpu.avg\n0,1\n10,1,2\n", 3, "expected 2 cells, got 3"),
    "not_a_number": ("timestamp,cpu.avg\n0,1\n10,high\n", 3, "cpu.avg: 'high' is not a number"),
    "crlf_line_ends": ("timestamp,cpu.avg\r\n0,1\r\n10,x\r\n", 3, "cpu.avg: 'x' is not a number"),
    "a_quoted_cell_over_two_lines": (
        'timestamp,cpu.avg\n0,"1\n"\n10,x\n',
        4,
        "cpu.avg: 'x' is not a number",
    ),
    "empty_file": ("", 1, "empty file"),
    "header_only": ("timestamp,cpu.avg\n", 2, "no data rows"),
}


@pytest.mark.parametrize(("text", "line", "message"), CSV_ERRORS.values(), ids=CSV_ERRORS.keys())
def test_bad_metrics_csv_exits_2_with_line(
    tmp_path: Path, capsys, policy: Path, text: str, line: int, message: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    code, out, err = backtest(capsys, "--policy", str(policy), "--metrics", str(f))
    assert (code, out) == (2, "")
    assert err.startswith(f"{f}:{line}: {message}"), err


def test_blank_lines_and_empty_cells_are_fine(tmp_path: Path, capsys, policy: Path) -> None:
    f = tmp_path / "ok.csv"
    f.write_text("timestamp,cpu.avg,heap.avg\n0,1,\n\n10,,2\n")
    code, _, err = backtest(capsys, "--policy", str(policy), "--metrics", str(f))
    assert (code, err) == (0, "")


def alert_line(at: str | float, **payload_over: object) -> str:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "EsHighCpu"},
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    }
    return json.dumps({"at": at, "payload": payload | payload_over})


ALERT_ERRORS = {
    "invalid_json": (alert_line(0) + "\n{not json\n", 2, "invalid JSON"),
    "missing_payload": (alert_line(0) + "\n" + json.dumps({"at": 5}) + "\n", 2,
                        'expected {"at": <timestamp>, "payload": {...}}'),
    "not_an_object": ("[1, 2]\n", 1, 'expected {"at"'),
    "unparsable_at": (alert_line("soon") + "\n", 1, "unparsable timestamp 'soon'"),
    "bad_payload": (alert_line(0, alerts=[{"status": "firing"}]) + "\n", 1,
                    "not a valid Alertmanager webhook payload"),
    "unsupported_version": (alert_line(0, version="3") + "\n", 1,
                            "unsupported Alertmanager payload version '3'"),
    "out_of_order": (alert_line(10) + "\n\n" + alert_line(5) + "\n", 3,
                     "alerts must be in time order"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "message"), ALERT_ERRORS.values(), ids=ALERT_ERRORS.keys()
)
def test_bad_alerts_jsonl_exits_2_with_line(
    tmp_path: Path, capsys, policy: Path, csv_85: Path, text: str, line: int, message: str
) -> None:
    f = tmp_path / "alerts.jsonl"
    f.write_text(text)
    code, out, err = backtest(
        capsys, "--policy", str(policy), "--metrics", str(csv_85), "--alerts", str(f)
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"{f}:{line}: {message}"), err


@pytest.mark.parametrize("which", ["--metrics", "--alerts"])
def test_a_file_that_is_not_utf8_exits_2_naming_it(
    tmp_path: Path, capsys, policy: Path, csv_85: Path, which: str
) -> None:
    f = tmp_path / "latin1.txt"
    f.write_bytes("timestamp,cpu.avg\n0,1\n10,caf\u00e9\n".encode("latin-1"))
    files = {"--metrics": str(csv_85), "--alerts": None} | {which: str(f)}
    argv = [x for k, v in files.items() if v is not None for x in (k, v)]
    code, out, err = backtest(capsys, "--policy", str(policy), *argv)
    assert (code, out) == (2, "")
    assert err == f"cannot read input: {f}: not UTF-8 text (invalid continuation byte)\n"


def test_missing_metrics_file_exits_2(tmp_path: Path, capsys, policy: Path) -> None:
    code, _, err = backtest(capsys, "--policy", str(policy), "--metrics", str(tmp_path / "no.csv"))
    assert code == 2
    assert "no.csv" in err


def test_bad_duration_argument_is_a_usage_error(capsys, policy: Path, csv_85: Path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["backtest", "--policy", str(policy), "--metrics", str(csv_85),
              "--confirm-after", "soon"])  # fmt: skip
    assert e.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize("replicas", ["-1", "three"])
def test_bad_starting_replicas_exit_2_naming_the_flag(
    capsys, policy: Path, csv_85: Path, replicas: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            ["backtest", "--policy", str(policy), "--metrics", str(csv_85), "--replicas", replicas]
        )
    assert exc.value.code == 2
    assert "argument --replicas" in capsys.readouterr().err
