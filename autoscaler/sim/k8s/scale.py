"""The StatefulSet ``scale`` subresource (``autoscaling/v1`` Scale): what the autoscaler writes.

GET/PUT/PATCH of ``.../statefulsets/NAME/scale`` read and write ``spec.replicas`` of the set
through a ``Scale`` view, with the set's resourceVersion for optimistic concurrency and the
``Scale.autoscaling`` validation texts (K8S ``pkg/registry/apps/statefulset/storage/storage.go``
``ScaleREST``, ``pkg/apis/autoscaling/validation``).
"""

from __future__ import annotations

import copy
from typing import Any

from autoscaler.sim.k8s.errors import FieldError, bad_request, conflict, invalid
from autoscaler.sim.k8s.patch import PatchError, apply_patch
from autoscaler.sim.k8s.statefulsets import scale_from
from autoscaler.sim.k8s.store import ApiStore
from autoscaler.sim.k8s.strategies import patch_invalid
from autoscaler.sim.k8s.types import STATEFULSETS, Obj, PatchType


class ScaleSubresource(ApiStore):
    """``scale_of`` / ``replace_scale`` / ``patch_scale`` on top of the store."""

    def scale_of(self, namespace: str, name: str) -> Obj:
        sts = self.get(STATEFULSETS, namespace, name)
        return scale_from(sts)

    def replace_scale(self, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise bad_request('Scale in version "v1" cannot be handled as a Scale')
        self.get(STATEFULSETS, namespace, name)  # 404 first, as the store does
        return self._write_scale(namespace, name, copy.deepcopy(body), dry_run=dry_run)

    def patch_scale(
        self,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Obj:
        self._check_patch_options(patch_type, field_manager, force)
        current = self.scale_of(namespace, name)
        try:
            new = apply_patch(current, patch_type, patch)
        except PatchError as exc:
            raise patch_invalid(STATEFULSETS, name, str(exc)) from exc
        return self._write_scale(namespace, name, new, dry_run=dry_run)

    def _write_scale(self, namespace: str, name: str, scale: Obj, *, dry_run: bool) -> Obj:
        spec = scale.get("spec") or {}
        replicas = spec.get("replicas", 0) if isinstance(spec, dict) else 0
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise bad_request(
                'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                f"{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of "
                "type int32"
            )
        if replicas < 0:
            raise invalid(
                "Scale.autoscaling",
                name,
                [
                    FieldError(
                        "spec.replicas", "Invalid", "must be greater than or equal to 0", replicas
                    )
                ],
                group="autoscaling",
                kind="Scale",
            )
        sts = self.get(STATEFULSETS, namespace, name)
        rv = (scale.get("metadata") or {}).get("resourceVersion") or ""
        if rv and rv != sts["metadata"]["resourceVersion"]:
            raise conflict(STATEFULSETS, name)
        sts["spec"]["replicas"] = replicas
        updated, _ = self._update(
            STATEFULSETS, namespace, name, sts, allow_create=False, dry_run=dry_run
        )
        return scale_from(updated)
