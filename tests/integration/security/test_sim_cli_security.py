"""``es-autoscaler sim --security`` as an operator runs it: one JSON line naming the CA, the
superuser's password (and its file) and the in-cluster layout; HTTPS refuses an anonymous
request and serves one with the printed credentials; a bad users file is a usage error."""

from __future__ import annotations

import base64
import json
import select
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def first_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail("the sim printed nothing")
    return proc.stdout.readline()


def test_sim_security_prints_ca_credentials_and_in_cluster_layout_and_refuses_anonymous(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "autoscaler.sim", "--virtual", "--nodes", "1",
            "--indices", "logs:1x0:1gb", "--kubeconfig-dir", str(tmp_path), "--security",
        ],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = json.loads(first_line(proc))
        ctx = ssl.create_default_context(cafile=line["ca_file"])
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{line['elasticsearch']}/", context=ctx, timeout=10)
        basic = base64.b64encode(f"{line['es_username']}:{line['es_password']}".encode())
        request = urllib.request.Request(
            f"{line['elasticsearch']}/_cluster/health",
            headers={"Authorization": f"Basic {basic.decode()}"},
        )
        with urllib.request.urlopen(request, context=ctx, timeout=10) as r:
            health = json.load(r)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert set(line) == {
        "elasticsearch", "kubernetes", "kubeconfig", "exporter", "ca_file", "cert_file", "es_username",
        "es_password",
        "es_password_file", "serviceaccount_dir", "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
    }  # fmt: skip
    assert line["elasticsearch"].startswith("https://")
    assert Path(line["cert_file"]).parent == Path(line["kubeconfig"]).parent == tmp_path
    assert Path(line["ca_file"]).parent == tmp_path
    assert line["kubernetes"] == (
        f"https://{line['KUBERNETES_SERVICE_HOST']}:{line['KUBERNETES_SERVICE_PORT']}"
    )
    assert Path(line["es_password_file"]).read_text().strip() == line["es_password"]
    assert Path(line["serviceaccount_dir"], "ca.crt").read_bytes() == (
        Path(line["ca_file"]).read_bytes()
    )
    assert refused.value.code == 401
    assert health["number_of_nodes"] == 1


@pytest.mark.parametrize(
    ("users", "extra", "message"),
    [
        ("roles: {r: {cluster: [superpowers]}}\n", ["--security"], "unknown cluster privilege"),
        ("users: {}\n", [], "--es-users needs --security"),
    ],
    ids=["bad-privilege", "without-security"],
)
def test_sim_with_a_bad_users_file_exits_2_saying_why(
    tmp_path: Path, users: str, extra: list[str], message: str
) -> None:
    path = tmp_path / "users.yml"
    path.write_text(users)
    result = subprocess.run(
        [sys.executable, "-m", "autoscaler.sim", "--virtual", "--es-users", str(path), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
