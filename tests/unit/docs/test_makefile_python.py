"""`make demo` / `make test` on a machine whose python3 is too old stop with one clear line.

Without the check, `python3 -m venv` succeeds on 3.10 and pip then fails deep in the
hash-locked install with a resolver error that does not mention the Python version. The test
runs the real Makefile in a scratch directory with a stand-in interpreter, so nothing is
installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.lock").touch()
    (tmp_path / "pyproject.toml").touch()
    return tmp_path


def _make(directory: Path, python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(directory), "venv", f"PYTHON={python}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_refuses_a_python_older_than_3_11_before_creating_the_venv(scratch: Path) -> None:
    old = scratch / "python3.10"
    old.write_text('#!/bin/sh\ncase "$1" in --version) echo "Python 3.10.12";; *) exit 1;; esac\n')
    old.chmod(0o755)
    result = _make(scratch, str(old))
    assert result.returncode != 0
    assert f"es-autoscaler needs Python >= 3.11; '{old}' is: Python 3.10.12" in result.stderr
    assert not (scratch / ".venv").exists()


def test_make_says_when_the_python_it_was_given_does_not_exist(scratch: Path) -> None:
    result = _make(scratch, str(scratch / "no-such-python"))
    assert result.returncode != 0
    assert "is: not found" in result.stderr


def test_the_venv_bootstrap_installs_only_the_hash_locked_requirements_and_the_project(
    scratch: Path,
) -> None:
    # A reproducible bootstrap: no unpinned `pip install --upgrade pip` (or any other package
    # by name); the pip that `venv` brings installs the lock. The stand-in interpreter passes
    # the version check, makes `.venv/bin/python` a copy of itself and logs every call.
    log = scratch / "calls.log"
    fake = scratch / "python3.11"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi\n'
    )
    fake.chmod(0o755)
    result = _make(scratch, str(fake))
    assert result.returncode == 0, result.stderr
    pip = [line for line in log.read_text().splitlines() if line.startswith("-m pip")]
    assert pip == [
        "-m pip install --quiet --require-hashes -r requirements/dev.lock",
        "-m pip install --quiet --no-deps -e .",
    ]
    assert (scratch / ".venv" / ".installed").exists()
