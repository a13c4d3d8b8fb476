"""``python -m autoscaler.sim`` starts the twin, prints its endpoints, stops on a signal."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "autoscaler.sim", "--virtual", "--nodes", "2",
            "--indices", "logs:2x1:1gb", "--kubeconfig-dir", str(tmp_path), *extra,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def first_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail("the sim printed nothing")
    return proc.stdout.readline()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sim_prints_one_json_line_serves_and_stops_cleanly_on_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    proc = start(tmp_path)
    try:
        line = first_line(proc)
        endpoints = json.loads(line)
        assert set(endpoints) == {"elasticsearch", "kubernetes", "kubeconfig", "exporter"}
        assert Path(endpoints["kubeconfig"]).is_file()
        with urllib.request.urlopen(
            f"{endpoints['elasticsearch']}/_cluster/health", timeout=10
        ) as r:
            health = json.load(r)
        assert health["number_of_nodes"] == 2
        with urllib.request.urlopen(f"{endpoints['kubernetes']}/version", timeout=10) as r:
            assert json.load(r)["major"] == "1"
        with urllib.request.urlopen(endpoints["exporter"], timeout=10) as r:
            exposition = r.read().decode()
        assert 'elasticsearch_cluster_health_number_of_nodes{cluster="sim-es"} 2\n' in exposition
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert stdout == ""  # nothing after the one JSON line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--indices", "nonsense"], "index spec"),
        (["--workload", "lots"], "--workload must be SEARCH,INDEX"),
        (["--vm-nodes", "-1"], "--vm-nodes must be >= 0"),
    ],
    ids=["indices", "workload", "vm-nodes"],
)
def test_sim_with_a_malformed_option_exits_2_saying_which(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autoscaler.sim", "--virtual", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_sim_workload_flag_sets_the_initial_workload(tmp_path: Path) -> None:
    proc = start(tmp_path, "--workload", "150,2500")
    try:
        endpoints = json.loads(first_line(proc))
        with urllib.request.urlopen(f"{endpoints['elasticsearch']}/_sim/state", timeout=10) as r:
            state = json.load(r)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert state["elasticsearch"]["workload"] == {"search_per_s": 150.0, "index_per_s": 2500.0}


def test_sim_vm_nodes_flag_starts_a_vm_only_cluster_without_statefulset(tmp_path: Path) -> None:
    proc = start(tmp_path, "--vm-nodes", "2")
    try:
        endpoints = json.loads(first_line(proc))
        es = endpoints["elasticsearch"]
        with urllib.request.urlopen(f"{es}/_cat/nodes?format=json&h=name", timeout=10) as r:
            names = sorted(row["name"] for row in json.load(r))
        with urllib.request.urlopen(f"{es}/_sim/nodes", timeout=10) as r:
            vms = json.load(r)["nodes"]
        with urllib.request.urlopen(f"{es}/_sim/state", timeout=10) as r:
            state = json.load(r)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert endpoints["vm_nodes"] == "es-vm-0,es-vm-1"
    assert names == ["es-vm-0", "es-vm-1"]
    assert [(vm["name"], vm["state"]) for vm in vms] == [
        ("es-vm-0", "joined"),
        ("es-vm-1", "joined"),
    ]
    assert state["kubernetes"]["statefulsets"] == []
