"""The container image's install recipe, proven without a Docker engine.

No Docker engine runs on our CI machines, so this replays the Dockerfile's recipe: build the
wheel from a build context holding only what ``.dockerignore`` lets through, create a fresh
venv, install ``requirements/runtime.lock`` with ``--require-hashes``, install the wheel with
``--no-deps``, then run the result: ``--help``, ``validate`` on the chart's default policies,
and a short ``serve`` against the twin. ``test_dockerfile_runs_the_same_install_commands``
keeps the commands here and in the Dockerfile in step.

The venv with the locked dependencies is cached under ``.tools/image-venv/<lock hash>`` so
reruns stay fast; the wheel is rebuilt and reinstalled on every run. pip needs PyPI (for the
locked wheels and the build backend): without network this skips, except in CI where it fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _chart_kit import REPO, docs_of, one

LOCK = REPO / "requirements" / "runtime.lock"
CACHE = REPO / ".tools" / "image-venv"
# The Dockerfile's commands, word for word (paths aside); see the test at the bottom.
WHEEL_CMD = ["-m", "pip", "wheel", "--no-cache-dir", "--no-deps", "--wheel-dir"]
LOCK_CMD = ["install", "--no-cache-dir", "--require-hashes", "-r"]
WHEEL_INSTALL_CMD = ["install", "--no-cache-dir", "--no-deps"]
CONTEXT_FILES = ("pyproject.toml", "README.md", "autoscaler")  # the .dockerignore allow-list


def _unavailable(what: str, result: subprocess.CompletedProcess[str]) -> None:
    detail = (result.stdout + result.stderr)[-2000:]
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} failed, and CI requires it:\n{detail}")
    pytest.skip(f"{what} failed (no network to PyPI?):\n{detail}")


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("timeout", 600)
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)


def _build_wheel(out: Path) -> Path:
    context = out / "context"
    context.mkdir()
    for name in CONTEXT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(
                src, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(src, context / name)
    dist = out / "dist"
    result = _run([sys.executable, *WHEEL_CMD, str(dist), "."], cwd=context)
    if result.returncode != 0:
        _unavailable("building the wheel (pip wheel)", result)
    (wheel,) = dist.glob("es_autoscaler-*.whl")
    return wheel


def _venv_key() -> str:
    h = hashlib.sha256(LOCK.read_bytes())
    h.update(f"{sys.version_info[:3]}".encode())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The venv the Dockerfile builds, with this checkout's wheel installed; held locked."""
    wheel = _build_wheel(tmp_path_factory.mktemp("image"))
    venv = CACHE / _venv_key()
    # One pytest-xdist worker at a time installs into and runs from the cached venv.
    with _locked(CACHE / f"{venv.name}.lock"):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            # `python -m venv` from the dev venv creates a venv of the base interpreter.
            made = _run([sys.executable, "-m", "venv", str(venv)])
            assert made.returncode == 0, made.stderr
            deps = _run([str(venv / "bin" / "pip"), *LOCK_CMD, str(LOCK)])
            if deps.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                _unavailable("pip install --require-hashes -r requirements/runtime.lock", deps)
            (venv / ".complete").write_text(LOCK.name + "\n")
        # --force-reinstall only because the venv is reused; the image installs into a fresh one.
        inst = _run(
            [str(venv / "bin" / "pip"), *WHEEL_INSTALL_CMD, "--force-reinstall", str(wheel)]
        )
        assert inst.returncode == 0, inst.stdout + inst.stderr
        yield venv


def _es_autoscaler(venv: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESAS_", "PYTHON"))}
    return _run([str(venv / "bin" / "es-autoscaler"), *args], env=env, timeout=60, **kw)


def test_image_venv_has_exactly_the_locked_dependencies(image_venv: Path) -> None:
    check = _run([str(image_venv / "bin" / "pip"), "check"])
    assert check.returncode == 0, check.stdout  # nothing the package needs is missing
    frozen = _run([str(image_venv / "bin" / "pip"), "freeze", "--all"]).stdout.splitlines()
    installed = {ln.split("==")[0].lower().replace("_", "-") for ln in frozen if "==" in ln}
    locked = {
        ln.split("==")[0].lower().replace("_", "-")
        for ln in LOCK.read_text().splitlines()
        if "==" in ln and not ln.startswith((" ", "#"))
    }
    assert locked <= installed
    assert installed - locked <= {"es-autoscaler", "pip", "setuptools"}, installed - locked


def test_image_venv_runs_es_autoscaler_help(image_venv: Path) -> None:
    result = _es_autoscaler(image_venv, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("validate", "backtest", "sim", "serve"):
        assert command in result.stdout


def test_image_venv_validates_the_chart_default_policies(
    image_venv: Path, rendered: dict[str, str], tmp_path: Path
) -> None:
    cm = one(docs_of(rendered["defaults"]), "ConfigMap", "-policies")
    _kubelet_configmap_layout(tmp_path, cm["data"])
    result = _es_autoscaler(image_venv, "validate", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("es-data: ")


def _kubelet_configmap_layout(directory: Path, data: dict[str, str]) -> None:
    """Lay files out as the kubelet mounts a ConfigMap (pkg/volume/util/atomic_writer.go):
    a hidden timestamped directory, ``..data`` pointing to it, each key a symlink into it."""
    stamp = directory / "..2026_01_01_00_00_00.000000001"
    stamp.mkdir()
    for name, body in data.items():
        (stamp / name).write_text(body)
    (directory / "..data").symlink_to(stamp.name)
    for name in data:
        (directory / name).symlink_to(f"..data/{name}")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _json_line(proc: subprocess.Popen[str], what: str, timeout: float = 30) -> dict[str, Any]:
    """The first JSON object on ``proc``'s stream that has key ``what``."""
    stream = proc.stdout if what == "elasticsearch" else proc.stderr
    assert stream is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        with contextlib.suppress(json.JSONDecodeError):
            rec = json.loads(line)
            if isinstance(rec, dict) and (what in rec or rec.get("event") == what):
                return rec
    pytest.fail(f"no {what!r} line; output: {''.join(seen)[-2000:]}")


@contextlib.contextmanager
def _process(argv: list[str], **kw: Any) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        **kw,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_image_venv_serves_against_the_twin(image_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESAS_", "PYTHON", "KUBE"))}
    bin_ = image_venv / "bin" / "es-autoscaler"
    sim_argv = [
        str(bin_),
        "sim",
        "--nodes",
        "3",
        "--pod-ready-delay",
        "0",
        "--kubeconfig-dir",
        str(tmp_path),
    ]
    with _process(sim_argv, env=env) as sim:
        urls = _json_line(sim, "elasticsearch")
        pdir = tmp_path / "policies"
        pdir.mkdir()
        (pdir / "twin.yaml").write_text(
            f"name: twin\nelasticsearch: {{url: {json.dumps(urls['elasticsearch'])}, pollInterval: 1s}}\n"
            "nodes: {roles: [data]}\ntarget: {statefulSet: {namespace: elastic, name: es-data}}\n"
            "replicas: {min: 3, max: 6}\n"
            "scaleUp: {when: {metric: cpu, aggregate: avg, above: 80, for: 5m}, cooldown: 10m}\n"
            "mode: dry-run\n"
        )
        token = tmp_path / "token"
        token.write_text("image-test-token\n")
        serve_argv = [
            str(bin_), "serve", f"--policies={pdir}", f"--webhook-token-file={token}",
            f"--state-dir={tmp_path / 'state'}", "--host=127.0.0.1", "--port=0",
            f"--kubeconfig={urls['kubeconfig']}",
        ]  # fmt: skip
        with _process(serve_argv, env=env, cwd=tmp_path) as serve:
            port = _json_line(serve, "listening")["port"]
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            status, body = _get(base + "/readyz")
            while status != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
                status, body = _get(base + "/readyz")
            assert status == 200, body
            _, policies = _get(base + "/api/v1/policies")
            (view,) = policies["policies"]
            assert view["name"] == "twin"
            # read through kubernetes-asyncio (scale subresource) and elasticsearch-py
            assert view["replicas"]["current"] == 3, view["replicas"]
            assert view["lastPoll"]["ok"] is True, view["lastPoll"]


def _dockerfile_runs() -> str:
    text = (REPO / "Dockerfile").read_text()
    return " ".join(text.replace("\\\n", " ").split())


def test_dockerfile_runs_the_same_install_commands() -> None:
    runs = _dockerfile_runs()
    assert "python " + " ".join(WHEEL_CMD) + " /dist ." in runs
    assert "python -m venv /opt/es-autoscaler" in runs
    assert "/opt/es-autoscaler/bin/pip " + " ".join(LOCK_CMD) + " /tmp/runtime.lock" in runs
    assert "/opt/es-autoscaler/bin/pip " + " ".join(WHEEL_INSTALL_CMD) + " /tmp/dist/*.whl" in runs
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][1:5] == [
        f"!{n}" + ("/" if n == "autoscaler" else "") for n in CONTEXT_FILES
    ] + ["!requirements/"]


def _pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            out[name.strip().lower()] = version.split()[0].strip(" \\")
    return out


def test_ansible_image_adds_ansible_to_the_runtime_pins_without_changing_them() -> None:
    # The `ansible` target installs ansible.lock over the runtime venv: it must keep every
    # runtime pin (no silent up/downgrade between the two images) and add ansible.
    runtime = _pins(LOCK)
    ansible = _pins(REPO / "requirements" / "ansible.lock")
    changed = {k: (v, ansible.get(k)) for k, v in runtime.items() if ansible.get(k) != v}
    assert changed == {}
    assert {"ansible-core", "ansible-runner"} <= set(ansible) - set(runtime)


def test_dockerfile_default_command_is_accepted_by_serve() -> None:
    from autoscaler.cli import build_parser

    lines = (REPO / "Dockerfile").read_text().splitlines()
    entry = json.loads(
        next(ln for ln in lines if ln.startswith("ENTRYPOINT "))[len("ENTRYPOINT ") :]
    )
    cmd = json.loads(next(ln for ln in lines if ln.startswith("CMD "))[len("CMD ") :])
    assert entry == ["es-autoscaler"]
    args = build_parser().parse_args(cmd)
    # the paths the Helm chart mounts
    assert args.policies == "/etc/es-autoscaler/policies"
    assert args.webhook_token_file == "/etc/es-autoscaler/webhook/token"


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = _run([str(hadolint), "--failure-threshold", "warning", str(REPO / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr
