"""PersistentVolumeClaims of StatefulSet pods: what a pod's identity and data live on.

A StatefulSet pod ``<sts>-N`` mounts ``<template>-<sts>-N`` for every entry of
``spec.volumeClaimTemplates``; the claim outlives the pod, so a pod recreated with the same
ordinal finds its data again. ``spec.persistentVolumeClaimRetentionPolicy`` decides whether
claims survive a scale-down (``whenScaled``) and the deletion of the set (``whenDeleted``):
``Retain`` (the default) keeps them, ``Delete`` lets the garbage collector remove them through
an owner reference — to the condemned pod on scale-down, to the set on deletion.

Sources (kubernetes/kubernetes): ``pkg/controller/statefulset/stateful_set_utils.go``
(``getPersistentVolumeClaimName``, ``getPersistentVolumeClaims``,
``updateClaimOwnerRefForSetAndPod``, ``claimOwnerMatchesSetAndPod``),
``stateful_pod_control.go`` (``createPersistentVolumeClaims``, event texts). The volume
name, storage class and immediate ``Bound`` phase stand in for a provisioner (inferred).
"""

from __future__ import annotations

import copy

from autoscaler.sim.k8s.types import Obj

DEFAULT_STORAGE_CLASS = "standard"


def retention(sts: Obj) -> tuple[str, str]:
    """``(whenDeleted, whenScaled)``, each ``Retain`` or ``Delete``."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(policy.get("whenDeleted", "Retain")), str(policy.get("whenScaled", "Retain"))


def claim_templates(sts: Obj) -> list[Obj]:
    return [t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or [] if t]


def claim_name(template: Obj, pod_name: str) -> str:
    """``getPersistentVolumeClaimName``: ``<template name>-<pod name>``."""
    return f"{(template.get('metadata') or {}).get('name', '')}-{pod_name}"


def claim_body(sts: Obj, template: Obj, pod_name: str) -> Obj:
    """The claim the controller creates for one pod (labels from the set's selector)."""
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update(((sts["spec"].get("selector") or {}).get("matchLabels")) or {})
    spec = copy.deepcopy(template.get("spec") or {})
    spec.setdefault("accessModes", ["ReadWriteOnce"])
    spec.setdefault("resources", {"requests": {"storage": "1Gi"}})
    spec.setdefault("storageClassName", DEFAULT_STORAGE_CLASS)
    spec.setdefault("volumeMode", "Filesystem")
    meta: Obj = {"name": claim_name(template, pod_name), "labels": labels}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {"metadata": meta, "spec": spec}


def bind(claim: Obj) -> None:
    """A dynamic provisioner binds the claim at once (volume ``pvc-<uid>``; inferred)."""
    spec = claim["spec"]
    spec["volumeName"] = f"pvc-{claim['metadata']['uid']}"
    claim["metadata"].setdefault("annotations", {}).update(
        {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
        }
    )
    claim["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
    claim["status"] = {
        "phase": "Bound",
        "accessModes": list(spec.get("accessModes") or []),
        "capacity": dict((spec.get("resources") or {}).get("requests") or {}),
    }


def owner_ref(kind: str, api_version: str, obj: Obj) -> Obj:
    """An owner reference as the StatefulSet controller sets it on claims."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": kind == "StatefulSet",
        "blockOwnerDeletion": True,
    }
