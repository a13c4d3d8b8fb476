"""ControllerRevisions: how a StatefulSet remembers its pod templates (rollout history/undo).

A change to ``spec.template`` is a new revision; pods carry the revision they were made from
in the ``controller-revision-hash`` label, and ``status.currentRevision`` /
``status.updateRevision`` tell clients how far a rolling update got. Sources (kubernetes/
kubernetes): ``pkg/controller/statefulset/stateful_set_utils.go`` (``getPatch``,
``newRevision``), ``pkg/controller/history/controller_history.go`` (``HashControllerRevision``,
``ControllerRevisionName``), ``staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go``
(``SafeEncodeString``).
"""

from __future__ import annotations

import copy
import json

from autoscaler.sim.k8s.types import Obj

#: ``rand.SafeEncodeString`` alphabet (no vowels, no confusable characters).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def _safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def template_patch(sts: Obj) -> Obj:
    """``getPatch``: ``{"spec": {"template": {..., "$patch": "replace"}}}``."""
    template = copy.deepcopy((sts.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Obj, collision_count: int = 0) -> str:
    """``HashControllerRevision``: FNV-32a of the revision data (+ collision count)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        raw += str(collision_count).encode()
    return _safe_encode(str(_fnv32a(raw)))


def template_of(revision: Obj) -> Obj:
    """The pod template a revision records (without the ``$patch`` directive)."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_revision_body(sts: Obj, number: int) -> Obj:
    """A ControllerRevision for ``sts``'s current template (``newRevision``)."""
    data = template_patch(sts)
    meta = sts["metadata"]
    labels = dict(((sts["spec"].get("selector") or {}).get("matchLabels")) or {})
    name = f"{meta['name']}-{revision_hash(data)}"
    labels["controller.kubernetes.io/hash"] = name.rsplit("-", 1)[1]
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k == "kubernetes.io/change-cause"
    }
    body: Obj = {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": data,
        "revision": number,
    }
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body
