"""StatefulSet strategy and views: validation, defaults, the ``scale`` subresource, revisions.

The registry rules of ``pkg/registry/apps/statefulset/strategy.go`` and
``pkg/apis/apps/validation`` are pure functions of the object; the controller that acts on
StatefulSets lives in ``model.py``.
"""

from __future__ import annotations

import copy

from autoscaler.sim.k8s.errors import FieldError, decode_error, invalid_object
from autoscaler.sim.k8s.selectors import parse_label_selector, selector_string
from autoscaler.sim.k8s.types import STATEFULSETS, Obj


def scale_from(sts: Obj) -> Obj:
    meta = sts["metadata"]
    replicas = int(sts["spec"].get("replicas", 0))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": replicas} if replicas else {},
        "status": {
            "replicas": int(sts.get("status", {}).get("replicas", 0)),
            "selector": selector_string(sts["spec"].get("selector") or {}),
        },
    }


def prepare_statefulset(obj: Obj, old: Obj | None) -> None:
    """Defaults and validation of ``pkg/apis/apps/validation`` for create (``old is None``) and update."""
    name = obj["metadata"].get("name", "")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if "replicas" not in spec:
        spec["replicas"] = 1 if old is None else 0
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "persistentVolumeClaimRetentionPolicy",
        {"whenDeleted": "Retain", "whenScaled": "Retain"},
    )
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise decode_error(
            STATEFULSETS,
            "json: cannot unmarshal string into Go struct field StatefulSetSpec.spec.replicas"
            " of type int32",
        )
    if replicas < 0:
        errors.append(
            FieldError("spec.replicas", "Invalid", "must be greater than or equal to 0", replicas)
        )
    if spec.get("podManagementPolicy") not in ("OrderedReady", "Parallel"):
        errors.append(
            FieldError(
                "spec.podManagementPolicy",
                "Invalid",
                "must be 'OrderedReady' or 'Parallel'",
                spec.get("podManagementPolicy"),
            )
        )
    if old is None:
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            errors.append(FieldError("spec.selector", "Required", ""))
        else:
            tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            reqs = parse_label_selector(selector_string(selector))
            if not all(r.matches(tmpl_labels) for r in reqs):
                errors.append(
                    FieldError(
                        "spec.template.metadata.labels",
                        "Invalid",
                        "`selector` does not match template `labels`",
                        str(tmpl_labels),
                    )
                )
        spec.setdefault("template", {}).setdefault("spec", {}).setdefault("containers", [])
        obj["metadata"]["generation"] = 1
        obj["status"] = {"replicas": 0, "availableReplicas": 0}
    else:
        mutable = (
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        )
        old_spec = old.get("spec", {})
        if {k: v for k, v in spec.items() if k not in mutable} != {
            k: v for k, v in old_spec.items() if k not in mutable
        }:
            errors.append(
                FieldError(
                    "spec",
                    "Forbidden",
                    "updates to statefulset spec for fields other than 'replicas', "
                    "'ordinals', 'template', 'updateStrategy', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                    "forbidden",
                )
            )
        obj["status"] = copy.deepcopy(old.get("status", {}))
        generation = int(old["metadata"].get("generation", 1))
        obj["metadata"]["generation"] = generation + (1 if spec != old_spec else 0)
    if errors:
        raise invalid_object(STATEFULSETS, name, errors)
