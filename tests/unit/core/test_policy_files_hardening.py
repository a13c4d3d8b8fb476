"""Policy files as Kubernetes mounts them and as an attacker might write them (issue 9).

ConfigMap volumes (item 1), YAML alias bombs and oversized files (item 3), credentials in
Elasticsearch URLs (item 7). Files are real files in a temp dir; the CLI is the real one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autoscaler.cli import main
from autoscaler.core.policyload import load_policy_texts
from autoscaler.policyfiles import MAX_POLICY_FILE_BYTES, load_policies, snapshot

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "policies" / "prod-data-cpu-heap.yaml"


def configmap_volume(root: Path, files: dict[str, Path], *, stamp: str) -> Path:
    """The layout kubelet's AtomicWriter gives a ConfigMap volume: a timestamped hidden dir,
    ``..data`` → it, and one symlink per key → ``..data/<key>``."""
    root.mkdir(exist_ok=True)
    version = root / f"..{stamp}"
    version.mkdir()
    for key, src in files.items():
        shutil.copy(src, version / key)
    tmp = root / "..data_tmp"
    tmp.symlink_to(version.name)
    os.replace(tmp, root / "..data")  # the atomic swap kubelet does
    for key in files:
        link = root / key
        if not link.is_symlink():
            link.symlink_to(f"..data/{key}")
    return root


def test_a_configmap_mounted_policy_directory_loads_each_policy_once(tmp_path: Path) -> None:
    cm = configmap_volume(tmp_path / "cm", {"p.yaml": SHIPPED}, stamp="2026_01_01_00_00_00.1")
    result = load_policies([cm])
    assert result.ok, [str(e) for e in result.errors]
    assert [lp.policy.name for lp in result.policies] == ["prod-data"]


def test_validate_accepts_a_configmap_mounted_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = configmap_volume(tmp_path / "cm", {"p.yaml": SHIPPED}, stamp="2026_01_01_00_00_00.1")
    assert main(["validate", str(cm)]) == 0, capsys.readouterr()


def test_the_snapshot_changes_when_kubelet_swaps_data_even_with_equal_mtimes(
    tmp_path: Path,
) -> None:
    cm = configmap_volume(tmp_path / "cm", {"p.yaml": SHIPPED}, stamp="2026_01_01_00_00_00.1")
    before = snapshot([cm])
    first = cm / "..2026_01_01_00_00_00.1" / "p.yaml"
    second_dir = cm / "..2026_01_01_00_01_00.2"
    second_dir.mkdir()
    second = second_dir / "p.yaml"
    second.write_text(SHIPPED.read_text().replace("name: prod-data", "name: renamed"))
    st = first.stat()
    os.utime(second, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the target moved
    tmp = cm / "..data_tmp"
    tmp.symlink_to(second_dir.name)
    os.replace(tmp, cm / "..data")
    assert snapshot([cm]) != before
    assert [lp.policy.name for lp in load_policies([cm]).policies] == ["renamed"]


def test_hidden_files_and_directories_are_not_policies(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copy(SHIPPED, tmp_path / ".git" / "copy.yaml")
    shutil.copy(SHIPPED, tmp_path / ".p.yaml.swp.yaml")
    shutil.copy(SHIPPED, tmp_path / "p.yaml")
    result = load_policies([tmp_path])
    assert result.ok, [str(e) for e in result.errors]
    assert len(result.policies) == 1


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_alias_bomb_is_refused_with_file_and_line() -> None:
    # Before: expanding it raised MemoryError and killed the process.
    result = load_policy_texts([("bomb.yaml", BILLION_LAUGHS)])
    assert not result.ok
    assert [(e.file, e.line) for e in result.errors] == [("bomb.yaml", 2)]
    assert "alias" in result.errors[0].message
    assert "*a" in result.errors[0].message


def test_a_policy_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(SHIPPED.read_text() + "#" * MAX_POLICY_FILE_BYTES + "\n")
    result = load_policies([big])
    assert not result.ok
    assert "larger than" in result.errors[0].message
    assert result.errors[0].file == str(big)


@pytest.mark.parametrize(
    "url",
    [
        "https://elastic:changeme@es.example:9200",
        "http://user@es:9200",
        "http://:secret@es:9200",
    ],
)
def test_credentials_in_an_elasticsearch_url_are_refused(url: str) -> None:
    text = SHIPPED.read_text()
    policy = "\n".join(
        line if not line.strip().startswith("url:") else f'  url: "{url}"'
        for line in text.splitlines()
    )
    result = load_policy_texts([("p.yaml", policy)])
    assert not result.ok
    message = " ".join(str(e) for e in result.errors)
    assert "username" in message
    assert "passwordFile" in message
    assert "changeme" not in message
    assert "secret" not in message
