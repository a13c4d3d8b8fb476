"""``.ci/run`` installs the e2e binaries with sudo when CI runs it as an unprivileged user
(hosted runners do), and directly as root (CI containers) — then runs ``make test``.

The test runs the real script with stand-ins on PATH for ``id``, ``sudo``, ``apt-get`` and
``make`` that only record how they were called, and a PATH without Prometheus/Alertmanager.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run(tmp_path: Path, uid: int) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env", "cat"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not found")
        os.symlink(found, bin_dir / tool)
    log = tmp_path / "calls"
    _fake(bin_dir, "id", f"echo {uid}")
    _fake(bin_dir, "sudo", f'echo "sudo $*" >> {log}; exec "$@"')
    _fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    _fake(bin_dir, "make", f'echo "make $*" >> {log}')
    result = subprocess.run(
        [str(REPO / ".ci" / "run")],
        env={"PATH": str(bin_dir), "CI": "true", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


def test_ci_run_installs_the_e2e_binaries_through_sudo_when_not_root(tmp_path: Path) -> None:
    calls = _run(tmp_path, uid=1001)
    assert calls == [
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        "apt-get update -qq",
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends prometheus-alertmanager prometheus",
        "apt-get install -y -qq --no-install-recommends prometheus-alertmanager prometheus",
        "make test",
    ]


def test_ci_run_installs_them_directly_as_root(tmp_path: Path) -> None:
    calls = _run(tmp_path, uid=0)
    assert calls == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends prometheus-alertmanager prometheus",
        "make test",
    ]
