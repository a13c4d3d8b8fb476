"""Where operations survive a restart: a local file or a Kubernetes ConfigMap.

The runner writes the operation *before* each side effect (DESIGN §6), so what is stored is
always the phase to (re-)run after a crash. Besides the running operation per target the
store keeps the last confirmation per target — the cooldown clock, which must not reset when
the service restarts — and the last N finished operations for ``/api/v1/operations``.

Both backends hold one JSON document and change it through ``update(fn)``:

- ``FileStore``: temp file in the same directory, fsync, rename over, fsync the directory
  (the rename is atomic; the directory fsync makes it durable — POSIX rename(2), and
  "Ensuring data reaches disk", LWN 457667).
- ``ConfigMapStore``: the document under one data key; writes carry the resourceVersion read,
  a 409 re-reads, re-applies ``fn`` and retries (optimistic concurrency, Kubernetes API
  conventions "Concurrency Control and Consistency").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.core.operation import Operation

FORMAT_VERSION = 1
DATA_KEY = "state.json"


class StoreError(Exception):
    """The state could not be read or written; the message says why."""


@dataclass(frozen=True)
class StoredState:
    """The whole persisted document."""

    running: dict[str, Operation] = field(default_factory=dict)
    """Target key → its running operation."""
    last_confirmed: dict[str, float] = field(default_factory=dict)
    """Target key → when its last operation was confirmed (cooldowns)."""
    finished: tuple[Operation, ...] = ()
    """Newest first, at most ``keep`` of them."""
    paused: frozenset[str] = frozenset()
    """Policies paused through the API (a restart must not un-pause them)."""
    keep: int = 100

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "running": {k: op.to_dict() for k, op in sorted(self.running.items())},
            "lastConfirmed": dict(sorted(self.last_confirmed.items())),
            "finished": [op.to_dict() for op in self.finished],
            "paused": sorted(self.paused),
        }

    @classmethod
    def from_dict(cls, d: Any, *, keep: int = 100) -> StoredState:
        if not isinstance(d, dict):
            raise StoreError("state is not a JSON object")
        if d.get("version") != FORMAT_VERSION:
            raise StoreError(f"unknown state format version {d.get('version')!r}")
        try:
            return cls(
                running={k: Operation.from_dict(v) for k, v in d.get("running", {}).items()},
                last_confirmed={k: float(v) for k, v in d.get("lastConfirmed", {}).items()},
                finished=tuple(Operation.from_dict(v) for v in d.get("finished", []))[:keep],
                paused=frozenset(str(p) for p in d.get("paused", [])),
                keep=keep,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise StoreError(f"state is malformed: {e!r}") from None

    def with_paused(self, policy: str, paused: bool) -> StoredState:
        names = self.paused | {policy} if paused else self.paused - {policy}
        return replace(self, paused=frozenset(names))

    def with_operation(self, op: Operation) -> StoredState:
        """Record ``op``: running ones replace their target's entry; finished ones move to
        the history (and a confirmation restarts the target's cooldown clock)."""
        running = dict(self.running)
        if op.running:
            running[op.target] = op
            return replace(self, running=running)
        running.pop(op.target, None)
        confirmed = dict(self.last_confirmed)
        if op.confirmed_at is not None:
            confirmed[op.target] = op.confirmed_at
        finished = (op, *(f for f in self.finished if f.id != op.id))[: self.keep]
        return replace(self, running=running, last_confirmed=confirmed, finished=finished)


Mutation = Callable[[StoredState], StoredState]


class Store(Protocol):
    """One abstract store; ``update`` is the only write."""

    @property
    def where(self) -> str: ...

    async def load(self) -> StoredState: ...

    async def update(self, fn: Mutation) -> StoredState: ...


class FileStore:
    """``{state_dir}/operations.json``, replaced atomically and durably on every write."""

    def __init__(self, state_dir: Path, *, keep: int = 100) -> None:
        self.path = state_dir / "operations.json"
        self.keep = keep
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return str(self.path)

    async def load(self) -> StoredState:
        return await asyncio.to_thread(self._read)

    def _read(self) -> StoredState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return StoredState(keep=self.keep)
        except OSError as e:
            raise StoreError(f"cannot read {self.path}: {e}") from None
        try:
            return StoredState.from_dict(json.loads(raw), keep=self.keep)
        except json.JSONDecodeError as e:
            raise StoreError(f"{self.path} is not JSON: {e}") from None

    def _write(self, state: StoredState) -> None:
        data = json.dumps(state.to_dict(), indent=1, sort_keys=True).encode()
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".operations.", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            raise StoreError(f"cannot write {self.path}: {e}") from None

    async def update(self, fn: Mutation) -> StoredState:
        async with self._lock:
            state = await asyncio.to_thread(self._read)
            new = fn(state)
            await asyncio.to_thread(self._write, new)
            return new


def parse_configmap_ref(ref: str) -> tuple[str, str]:
    """``"NAMESPACE/NAME"`` → (namespace, name); a clear ValueError otherwise."""
    namespace, sep, name = ref.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME for the state ConfigMap, got {ref!r}")
    return namespace, name


_CONFLICT_ATTEMPTS = 10
CONFIGMAP_DATA_LIMIT = 900_000
"""Bytes of JSON kept in the ConfigMap: ``ValidateConfigMap`` rejects data totalling more
than ``core.MaxSecretSize`` = 1 MiB (kubernetes/kubernetes pkg/apis/core/validation/
validation.go); this leaves a margin."""


def fit(state: StoredState, *, limit: int) -> tuple[StoredState, str]:
    """``state`` as JSON within ``limit`` bytes, dropping the oldest finished operations
    first (running operations, confirmations and pauses are never dropped)."""
    while True:
        text = json.dumps(state.to_dict(), sort_keys=True)
        if len(text.encode()) <= limit or not state.finished:
            return state, text
        state = replace(state, finished=state.finished[: max(0, len(state.finished) // 2)])


class ConfigMapStore:
    """The state in ``data["state.json"]`` of one ConfigMap (created on first write)."""

    def __init__(
        self, api: client.ApiClient, *, namespace: str, name: str, keep: int = 100
    ) -> None:
        self._core = client.CoreV1Api(api)
        self.namespace, self.name, self.keep = namespace, name, keep
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    async def _get(self) -> tuple[StoredState, str | None]:
        try:
            cm = await self._core.read_namespaced_config_map(self.name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return StoredState(keep=self.keep), None
            raise StoreError(f"cannot read {self.where}: HTTP {e.status} {e.reason}") from None
        except (OSError, TimeoutError, aiohttp.ClientError) as e:
            raise StoreError(f"cannot read {self.where}: {e}") from None
        raw = (cm.data or {}).get(DATA_KEY)
        if not raw:
            return StoredState(keep=self.keep), cm.metadata.resource_version
        try:
            state = StoredState.from_dict(json.loads(raw), keep=self.keep)
        except json.JSONDecodeError as e:
            raise StoreError(f"{self.where} key {DATA_KEY} is not JSON: {e}") from None
        return state, cm.metadata.resource_version

    async def load(self) -> StoredState:
        return (await self._get())[0]

    async def update(self, fn: Mutation) -> StoredState:
        async with self._lock:
            for _ in range(_CONFLICT_ATTEMPTS):
                state, version = await self._get()
                new, text = fit(fn(state), limit=CONFIGMAP_DATA_LIMIT)
                body: Any = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": self.name,
                        "namespace": self.namespace,
                        "labels": {"app.kubernetes.io/managed-by": "es-autoscaler"},
                    },
                    "data": {DATA_KEY: text},
                }
                try:
                    if version is None:
                        await self._core.create_namespaced_config_map(self.namespace, body)
                    else:
                        body["metadata"]["resourceVersion"] = version
                        await self._core.replace_namespaced_config_map(
                            self.name, self.namespace, body
                        )
                    return new
                except ApiException as e:
                    if e.status == 409:
                        continue  # changed (or created) since our read: re-read, re-apply
                    raise StoreError(
                        f"cannot write {self.where}: HTTP {e.status} {e.reason}"
                    ) from None
                except (OSError, TimeoutError, aiohttp.ClientError) as e:
                    raise StoreError(f"cannot write {self.where}: {e}") from None
            raise StoreError(f"cannot write {self.where}: still conflicting after retries")
