"""Finding and reading policy files on disk; one place for the CLI and the service.

The parsing and validation are pure (``core.policyload.load_policy_texts``); this module is the
thin IO layer that turns paths (files or directories) into ``(name, text)`` pairs and reports
unreadable, missing or oversized paths as ordinary policy errors.

Kubernetes mounts a ConfigMap as kubelet's AtomicWriter lays it out: the files live in a
hidden, timestamped directory (``..2026_01_01_00_00_00.123``), ``..data`` is a symlink to it,
and each key is a symlink ``key -> ..data/key``. An update writes a new hidden directory and
swaps ``..data`` atomically. So directory scans skip every dot-entry (each key is then seen
once, through its top-level symlink), and change detection (:func:`snapshot`) compares where
each file resolves to, not only its mtime: a swap changes the target even when the new file
carries the old mtime. Source: kubernetes/kubernetes ``pkg/volume/util/atomic_writer.go``
(the layout and the ``..data`` rename are described in its package comment).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from autoscaler.core.policyload import LoadedPolicy, LoadResult, PolicyError, load_policy_texts

__all__ = [
    "MAX_POLICY_FILE_BYTES",
    "FileState",
    "load_policies",
    "load_policies_isolated",
    "policy_files",
    "read_policies",
    "snapshot",
]

SUFFIXES = frozenset({".yaml", ".yml"})
MAX_POLICY_FILE_BYTES: Final = 1 << 20
"""Largest policy file read (1 MiB; real policies are a few KiB). Larger ones are an error."""

FileState = tuple[str, int, int]
"""(resolved path, mtime in ns, size) of one policy file."""


def _scan(directory: Path) -> list[Path]:
    """YAML files under ``directory``, recursively, sorted, skipping hidden entries."""
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root) / name
            if not name.startswith(".") and p.suffix in SUFFIXES and p.is_file():
                found.append(p)
    return found


def policy_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[PolicyError]]:
    """YAML files named directly or found (recursively, sorted, not hidden) in directories."""
    files: list[Path] = []
    problems: list[PolicyError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = _scan(p)
            if not found:
                problems.append(PolicyError(str(raw), 1, "", "no .yaml/.yml policy files here"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(PolicyError(str(raw), 1, "", "no such file or directory"))
    return files, problems


def _read(f: Path) -> str:
    """The file's text; ValueError if it is larger than MAX_POLICY_FILE_BYTES (never read)."""
    with f.open("rb") as fh:
        data = fh.read(MAX_POLICY_FILE_BYTES + 1)
    if len(data) > MAX_POLICY_FILE_BYTES:
        raise ValueError(
            f"file is larger than {MAX_POLICY_FILE_BYTES} bytes (the policy file size limit)"
        )
    return data.decode("utf-8")


def load_policies(paths: Sequence[str | Path]) -> LoadResult:
    """Read and validate policy files; unreadable or oversized paths come back as errors."""
    files, problems = policy_files(paths)
    sources = []
    for f in files:
        try:
            sources.append((str(f), _read(f)))
        except UnicodeDecodeError as e:
            problems.append(PolicyError(str(f), 1, "", f"cannot read: not UTF-8 ({e.reason})"))
        except OSError as e:
            problems.append(PolicyError(str(f), 1, "", f"cannot read: {e}"))
        except ValueError as e:
            problems.append(PolicyError(str(f), 1, "", str(e)))
    result = load_policy_texts(sources)
    warnings = [*result.warnings, *_missing_playbook_files(result.policies)]
    return LoadResult(result.policies, [*problems, *result.errors], warnings)


def _missing_playbook_files(policies: Sequence[LoadedPolicy]) -> list[PolicyError]:
    """A warning per Ansible playbook or inventory that is not there (paths relative to the
    policy file, as the target resolves them). A typo would otherwise surface only when the
    cluster needs the node — mid-incident, as a failed operation. A warning, not an error:
    ``validate`` may run where absolute paths of the production host do not exist."""
    out: list[PolicyError] = []
    for loaded in policies:
        spec = loaded.policy.target.ansible if loaded.policy.target is not None else None
        if spec is None:
            continue
        base = Path(loaded.file).parent
        for name, value in (
            ("scaleUp", spec.scaleUp),
            ("scaleDown", spec.scaleDown),
            ("inventory", spec.inventory),
        ):
            if value is None:
                continue
            path = Path(value) if Path(value).is_absolute() else base / value
            if not path.is_file():
                out.append(
                    PolicyError(
                        loaded.file,
                        loaded.line,
                        f"target.ansible.{name}",
                        f"{value!r} is not a file (looked at {path}); paths are relative to "
                        "the policy file's directory",
                    )
                )
    return out


def snapshot(paths: Sequence[str | Path]) -> dict[str, FileState]:
    """What each policy file is now (for change detection, including ``..data`` swaps)."""
    files, _ = policy_files(paths)
    out: dict[str, FileState] = {}
    for f in files:
        try:
            st = f.stat()
            out[str(f)] = (os.path.realpath(f), st.st_mtime_ns, st.st_size)
        except OSError:
            continue
    return out


def read_policies(paths: Sequence[str | Path]) -> tuple[dict[str, FileState], LoadResult]:
    """The files' :func:`snapshot` (taken first: a change while reading is seen next time)
    and what they load to."""
    return snapshot(paths), load_policies(paths)


async def load_policies_isolated(
    paths: Sequence[str | Path],
) -> tuple[dict[str, FileState], LoadResult]:
    """:func:`read_policies` in a short-lived child process, for a running service.

    Parsing a large YAML file takes seconds of CPU. In a thread it still competes with the
    event loop for the GIL (the loop-lag probe measured 0.2–0.5 s stalls on a loaded
    machine), so it runs in a spawned process: the loop only waits on a pipe, and whatever
    the file does to the parser (memory, time) happens to the child, not to the service.
    If the child dies, the result is an error and the caller keeps the policies it has.
    """
    # imported here: ``validate`` and ``backtest`` read policies too, without an event loop
    import asyncio
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await loop.run_in_executor(pool, read_policies, [str(p) for p in paths])
    except Exception as e:  # BrokenProcessPool, pickling, OSError from spawning
        where = str(paths[0]) if paths else ""
        error = PolicyError(where, 1, "", f"the policy loader process failed: {e!r}")
        return {}, LoadResult([], [error], [])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
