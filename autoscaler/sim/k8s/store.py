"""API-server storage: one ``resourceVersion`` counter, optimistic concurrency, CRUD.

This is the generic half of kube-apiserver's registry (``staging/.../registry/generic/registry/store.go``):
create/get/list/update/patch/delete with preconditions, dry-run and the per-kind strategies.
Controllers (``model.py``) build on it.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from autoscaler.sim.clock import SimClock
from autoscaler.sim.k8s.errors import (
    FieldError,
    K8sError,
    already_exists,
    bad_request,
    conflict,
    decode_error,
    internal_error,
    invalid,
    invalid_object,
    not_found,
    status_details,
)
from autoscaler.sim.k8s.history import (
    INCONSISTENT_CONTINUE,
    Compactor,
    ResourceHistory,
    WatchEvent,
    decode_continue,
    encode_continue,
    expired,
)
from autoscaler.sim.k8s.patch import PatchError, apply_patch
from autoscaler.sim.k8s.selectors import field_value, parse_field_selector, parse_label_selector
from autoscaler.sim.k8s.statefulsets import prepare_statefulset
from autoscaler.sim.k8s.strategies import (
    event_from_events_v1,
    event_to_events_v1,
    go_order,
    patch_invalid,
    prepare_configmap,
    prepare_event,
    prepare_lease,
    success_status,
)
from autoscaler.sim.k8s.timefmt import format_time
from autoscaler.sim.k8s.types import (
    CONFIGMAPS,
    EVENTS,
    EVENTS_V1,
    LEASES,
    NAMESPACES,
    PODS,
    STATEFULSETS,
    STORE_OF,
    Obj,
    PatchType,
    ResourceType,
    iter_resource_types,
)

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


#: kube-apiserver ``--event-ttl`` default (``cmd/kube-apiserver/app/options/options.go``).
EVENT_TTL_SECONDS = 3600.0
#: how often expired Events are looked for (etcd revokes leases continuously; inferred).
EVENT_GC_SECONDS = 60.0


@dataclass(frozen=True)
class ListPage:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""


@dataclass
class ObjectStore:
    objects: dict[tuple[str, str], Obj] = field(default_factory=dict)


class ApiStore:
    """API-server storage, driven by the requests of clients and controllers.

    Objects are kept as the JSON dicts the wire carries. All writes bump one cluster-wide
    ``resourceVersion`` counter. Subclasses (controllers) override the ``_on_*`` hooks.
    """

    def __init__(self, *, clock: SimClock, seed: int = 0) -> None:
        self.clock = clock
        self._rng = Random(seed)
        self._rv = 1000
        self._stores: dict[str, ObjectStore] = {}
        # one watch cache per resource from the start (the apiserver fills its caches when it
        # starts): a watch from any later list's resourceVersion can resume
        self._history: dict[str, ResourceHistory] = {
            STORE_OF.get(rt, rt).resource: ResourceHistory(created_rv=self._rv)
            for rt in iter_resource_types()
        }
        self._compactor = Compactor(now=clock.time(), rv=self._rv)
        self._event_expiry: dict[tuple[str, str], float] = {}
        self._next_event_gc = clock.time() + EVENT_GC_SECONDS
        for ns in ("default", "kube-system"):
            self.ensure_namespace(ns)

    # ---- controller hooks ----------------------------------------------------------------

    def _on_delete(
        self, rt: ResourceType, namespace: str, name: str, grace_seconds: float | None
    ) -> Obj | None:
        """Before a DELETE removes the object: return the response to end it here (graceful
        pod deletion, ``DeleteOptions.gracePeriodSeconds``), or ``None`` to let the store
        remove the object."""
        return None

    def _on_deleted(self, rt: ResourceType, namespace: str, name: str) -> None:
        """After an object was removed (cascades)."""

    def _on_spec_written(self, rt: ResourceType, namespace: str, name: str) -> None:
        """After an update that changed the stored object (controllers resync)."""

    # ---- basics --------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _now(self) -> float:
        return self.clock.time()

    def _store(self, rt: ResourceType) -> ObjectStore:
        key = STORE_OF.get(rt, rt).resource
        return self._stores.setdefault(key, ObjectStore())

    def history(self, rt: ResourceType) -> ResourceHistory:
        """The watch cache of ``rt``'s storage bucket."""
        key = STORE_OF.get(rt, rt).resource
        found = self._history.get(key)
        if found is None:
            found = self._history[key] = ResourceHistory(created_rv=self._rv)
        return found

    def _put(self, rt: ResourceType, key: tuple[str, str], obj: Obj) -> None:
        """Store ``obj`` (whose resourceVersion is already set) and log the change.

        ``obj`` must be a fresh dict: logged objects are shared with watchers and never
        mutated afterwards (copy-on-write)."""
        store = self._store(rt)
        prev = store.objects.get(key)
        kind = "MODIFIED" if prev is not None else "ADDED"
        store.objects[key] = obj
        rv = int(obj["metadata"]["resourceVersion"])
        self.history(rt).append(WatchEvent(rv, kind, key, obj, self._now(), prev))
        if rt is EVENTS:  # every write of an Event gets a fresh etcd lease of --event-ttl
            self._event_expiry[key] = self._now() + EVENT_TTL_SECONDS

    def _drop(self, rt: ResourceType, key: tuple[str, str]) -> Obj:
        """Remove an object; watchers see it DELETED at a new resourceVersion."""
        obj = self._store(rt).objects.pop(key)
        gone = dict(obj)
        gone["metadata"] = {**obj["metadata"], "resourceVersion": self._next_rv()}
        self.history(rt).append(WatchEvent(self._rv, "DELETED", key, gone, self._now()))
        return gone

    @property
    def compacted_rv(self) -> int:
        return self._compactor.compacted_rv

    def compact(self, now: float) -> None:
        """etcd compaction on the simulated clock (continue tokens expire), and Events whose
        lease ran out (kube-apiserver ``--event-ttl``, default 1h) expire."""
        self._compactor.tick(now, self._rv)
        if now >= self._next_event_gc:
            self._next_event_gc = now + EVENT_GC_SECONDS
            events = self._store(EVENTS).objects
            for key, until in list(self._event_expiry.items()):
                if until <= now:
                    del self._event_expiry[key]
                    if key in events:
                        self._drop(EVENTS, key)

    def _key(self, rt: ResourceType, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if rt.namespaced else "", name)

    def ensure_namespace(self, name: str) -> None:
        if (("", name)) in self._store(NAMESPACES).objects:
            return
        obj: Obj = {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": self._uid(),
                "resourceVersion": self._next_rv(),
                "creationTimestamp": format_time(self._now()),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._put(NAMESPACES, ("", name), obj)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if rt.namespaced and ("", namespace) not in self._store(NAMESPACES).objects:
            raise not_found(NAMESPACES, namespace)

    # ---- generic read --------------------------------------------------------------------

    def exists(self, rt: ResourceType, namespace: str, name: str) -> bool:
        store_rt = STORE_OF.get(rt, rt)
        return self._key(rt, namespace, name) in self._store(store_rt).objects

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self._store(rt).objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise not_found(rt, name)
        return self._view(rt, obj)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]:
        """Items (sorted by namespace/name, like etcd keys) and the list resourceVersion."""
        page = self.list_page(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return page.items, page.resource_version

    def list_page(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> ListPage:
        """One page of a list (``limit`` + ``continue``, etcd3 ``GetList`` semantics).

        A token from before the last compaction is 410 with the ``inconsistentContinue``
        message and a fresh token in the Status ``metadata.continue`` (etcd3 store.go)."""
        labels = parse_label_selector(label_selector) if label_selector else []
        fields = parse_field_selector(rt.resource, field_selector) if field_selector else []
        start = ""
        list_rv = self._rv
        if continue_token:
            token_rv, start = decode_continue(continue_token)
            if 0 < token_rv <= self._compactor.compacted_rv:
                err = expired(INCONSISTENT_CONTINUE)
                err.list_continue = encode_continue(-1, start)
                raise err
            if token_rv > 0:
                list_rv = token_rv  # inferred: later pages read current state (no MVCC here)
        items: list[Obj] = []
        more = False
        last_key = ""
        for (ns, _name), obj in sorted(self._store(rt).objects.items()):
            if rt.namespaced and namespace is not None and ns != namespace:
                continue
            rel_key = f"{ns}/{_name}" if rt.namespaced else _name
            if start and rel_key <= start:
                continue
            obj_labels = obj["metadata"].get("labels") or {}
            if not all(r.matches(obj_labels) for r in labels):
                continue
            if not all((field_value(obj, k) == v) == (op == "=") for k, op, v in fields):
                continue
            if limit and len(items) >= limit:
                more = True
                break
            items.append(self._view(rt, obj))
            last_key = rel_key
        token = encode_continue(list_rv, last_key) if more else ""
        return ListPage(items, str(list_rv), token)

    def peek(self, rt: ResourceType, namespace: str | None = None) -> Sequence[Obj]:
        """Stored objects without copying (read-only use inside the twin, e.g. RBAC)."""
        return [
            obj
            for (ns, _), obj in sorted(self._store(rt).objects.items())
            if not rt.namespaced or namespace is None or ns == namespace
        ]

    def peek_one(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """One stored object without copying, or ``None``."""
        return self._store(rt).objects.get(self._key(rt, namespace, name))

    def _view(self, rt: ResourceType, obj: Obj) -> Obj:
        if rt is EVENTS_V1:
            return event_to_events_v1(obj)
        return copy.deepcopy(obj)

    # ---- generic write -------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, *, dry_run: bool = False) -> Obj:
        obj = self._decode(rt, body)
        if rt is EVENTS_V1:
            obj = event_from_events_v1(obj)
            rt_store = EVENTS
        else:
            rt_store = rt
        meta = obj["metadata"]
        self._check_body_namespace(rt, namespace, meta)
        self._check_namespace(rt, namespace)
        store = self._store(rt_store)
        name = meta.get("name") or ""
        if not name:
            generate = meta.get("generateName") or ""
            if not generate:
                raise invalid_object(
                    rt,
                    "",
                    [FieldError("metadata.name", "Required", "name or generateName is required")],
                )
            while True:
                name = generate + "".join(self._rng.choice(_GENERATE_ALPHABET) for _ in range(5))
                if self._key(rt, namespace, name) not in store.objects:
                    break
        self._check_name(rt, name)
        if self._key(rt, namespace, name) in store.objects:
            raise already_exists(rt, name)
        if meta.get("resourceVersion"):
            raise internal_error("resourceVersion should not be set on objects to be created")
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = self._uid()
        meta["creationTimestamp"] = format_time(self._now())
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(transient, None)
        obj["kind"], obj["apiVersion"] = rt_store.kind, rt_store.api_version
        self._prepare(rt_store, obj, None)
        meta["resourceVersion"] = self._rv_for_write(dry_run)
        obj = go_order(obj)
        if not dry_run:
            self._put(rt_store, self._key(rt, namespace, name), obj)
        return self._view(rt, obj)

    def replace(
        self, rt: ResourceType, namespace: str, name: str, body: Any, *, dry_run: bool = False
    ) -> tuple[Obj, bool]:
        """PUT. Returns ``(object, created)``."""
        obj = self._decode(rt, body)
        if rt is EVENTS_V1:
            obj = event_from_events_v1(obj)
        return self._update(rt, namespace, name, obj, allow_create=True, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> tuple[Obj, bool]:
        """PATCH. Returns ``(object, created)`` (created only for an apply that creates)."""
        self._check_patch_options(patch_type, field_manager, force)
        current = self._store(rt).objects.get(self._key(rt, namespace, name))
        if current is None:
            if patch_type == "apply" and rt.resource != "pods":
                body = patch if isinstance(patch, dict) else {}
                body = copy.deepcopy(body)
                body.setdefault("metadata", {})["name"] = name
                return self.create(rt, namespace, body, dry_run=dry_run), True
            raise not_found(rt, name)
        base = self._view(rt, current)
        try:
            patched = apply_patch(base, patch_type, patch)
        except PatchError as exc:
            raise patch_invalid(rt, name, str(exc)) from exc
        if rt is EVENTS_V1:
            patched = event_from_events_v1(patched)
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise decode_error(rt, "metadata must be an object")
        if not meta.get("resourceVersion"):
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._update(rt, namespace, name, patched, allow_create=False, dry_run=dry_run)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        grace_seconds: float | None = None,
    ) -> Obj:
        """DELETE: a Success Status, or the deleted pod (pods are returned as objects)."""
        store = self._store(rt)
        key = self._key(rt, namespace, name)
        obj = store.objects.get(key)
        if obj is None:
            raise not_found(rt, name)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise K8sError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"UID in precondition: {pre['uid']}, UID in object meta: {obj['metadata']['uid']}",
                status_details(rt, name),
            )
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]
        ):
            raise K8sError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in "
                f"object meta: {obj['metadata']['resourceVersion']}",
                status_details(rt, name),
            )
        if dry_run:
            return self._view(rt, obj) if rt is PODS else success_status(rt, obj)
        handled = self._on_delete(rt, namespace, name, grace_seconds)
        if handled is not None:
            return handled
        self._drop(STORE_OF.get(rt, rt), key)
        self._on_deleted(rt, namespace, name)
        return success_status(rt, obj)

    # ---- write helpers -------------------------------------------------------------------

    def _rv_for_write(self, dry_run: bool) -> str:
        return str(self._rv + 1) if dry_run else self._next_rv()

    def _decode(self, rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise decode_error(
                rt, f"json: cannot unmarshal {type(body).__name__} into Go value of type "
                f"struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                f"Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            )  # fmt: skip
        obj = copy.deepcopy(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        if api_version and api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise decode_error(
                rt, "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta"
            )
        return obj

    def _check_body_namespace(self, rt: ResourceType, namespace: str, meta: Obj) -> None:
        body_ns = meta.get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )

    def _check_name(self, rt: ResourceType, name: str) -> None:
        if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise invalid_object(
                rt, name, [FieldError("metadata.name", "Invalid", _DNS_SUBDOMAIN_MSG, name)]
            )

    def _check_patch_options(
        self, patch_type: PatchType, field_manager: str | None, force: bool | None
    ) -> None:
        if patch_type == "apply" and not field_manager:
            raise invalid(
                "PatchOptions.meta.k8s.io",
                "",
                [FieldError("fieldManager", "Required", "is required for apply patch")],
                group="meta.k8s.io",
                kind="PatchOptions",
            )
        if patch_type != "apply" and force is not None:
            raise invalid(
                "PatchOptions.meta.k8s.io",
                "",
                [FieldError("force", "Forbidden", "may not be specified for non-apply patch")],
                group="meta.k8s.io",
                kind="PatchOptions",
            )

    def _update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        new: Obj,
        *,
        allow_create: bool,
        dry_run: bool,
    ) -> tuple[Obj, bool]:
        store_rt = STORE_OF.get(rt, rt)
        store = self._store(store_rt)
        key = self._key(rt, namespace, name)
        meta = new["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        self._check_body_namespace(rt, namespace, meta)
        old = store.objects.get(key)
        if old is None:
            if allow_create and rt.create_on_update:
                meta["name"] = name
                meta.pop("resourceVersion", None)
                view_rt = EVENTS if rt is EVENTS_V1 else rt
                created = self.create(view_rt, namespace, new, dry_run=dry_run)
                return (self._view(rt, created) if rt is EVENTS_V1 else created), True
            raise not_found(rt, name)
        rv = meta.get("resourceVersion") or ""
        if not rv:
            if not rt.unconditional_update:
                raise invalid(
                    rt.qualified,
                    name,
                    [
                        FieldError(
                            "metadata.resourceVersion",
                            "Invalid",
                            "must be specified for an update",
                            "0x0",
                            raw=True,
                        )
                    ],
                    group=rt.group,
                    kind=rt.resource,
                )
        elif rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        old_meta = old["metadata"]
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        for kept in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
            else:
                meta.pop(kept, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        new["kind"], new["apiVersion"] = store_rt.kind, store_rt.api_version
        self._prepare(store_rt, new, old)
        new = go_order(new)
        if new == old:
            return self._view(rt, old), False
        meta = new["metadata"]
        meta["resourceVersion"] = self._rv_for_write(dry_run)
        if not dry_run:
            self._put(store_rt, key, new)
            self._on_spec_written(store_rt, namespace, name)
        return self._view(rt, new), False

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Per-kind strategy: defaults, validation, normalisation (PrepareFor*/Validate*)."""
        if rt is STATEFULSETS:
            prepare_statefulset(obj, old)
        elif rt is LEASES:
            prepare_lease(obj)
        elif rt is EVENTS:
            prepare_event(obj)
        elif rt is CONFIGMAPS:
            prepare_configmap(obj)
        elif rt is PODS and old is not None:
            obj["status"] = copy.deepcopy(old.get("status", {}))
            obj["spec"] = copy.deepcopy(old.get("spec", {}))

    # ---- StatefulSets --------------------------------------------------------------------
