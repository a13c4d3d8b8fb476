"""The four PATCH flavours: RFC 6902 JSON patch, RFC 7386 merge patch, strategic merge.

kubernetes-asyncio sends strategic merge patches for dicts and JSON patches for lists, kubectl
sends strategic merges; each must transform the object exactly as the apiserver would.
"""

from __future__ import annotations

import copy
from typing import Any

from autoscaler.sim.k8s.types import Obj, PatchType

# --------------------------------------------------------------------------------------------
# Patches: RFC 6902 JSON patch, RFC 7386 merge patch, strategic merge patch (subset)
# --------------------------------------------------------------------------------------------

#: Lists that strategic merge patch merges by key instead of replacing (core/v1 patchMergeKey).
_SMP_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}


class PatchError(Exception):
    """A patch that cannot be applied (becomes 422/400 at the caller)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch for the fields the twin serves.

    Maps merge recursively (``null`` deletes, ``$patch: replace|delete`` honoured); lists in
    ``_SMP_MERGE_KEYS`` merge item-by-item on their merge key (``$patch: delete`` items remove);
    other lists replace, as for types without a patch strategy.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _SMP_MERGE_KEYS:
            result[key] = _smp_merge_list(result.get(key), value, _SMP_MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _smp_merge_list(target: Any, patch: list[Any], merge_key: str) -> list[Any]:
    items: list[Any] = copy.deepcopy(target) if isinstance(target, list) else []
    for entry in patch:
        if not isinstance(entry, dict) or merge_key not in entry:
            items.append(copy.deepcopy(entry))
            continue
        idx = next(
            (
                i
                for i, item in enumerate(items)
                if isinstance(item, dict) and item.get(merge_key) == entry[merge_key]
            ),
            None,
        )
        if entry.get("$patch") == "delete":
            if idx is not None:
                items.pop(idx)
        elif idx is None:
            items.append({k: v for k, v in copy.deepcopy(entry).items() if k != "$patch"})
        else:
            items[idx] = strategic_merge_patch(items[idx], entry)
    return items


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict):
            if part not in cur:
                raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}") from exc
        else:
            raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
    return cur, parts[-1]


def _get_path(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _resolve_parent(doc, parts)
    try:
        if isinstance(parent, dict):
            return parent[last]
        if isinstance(parent, list):
            return parent[int(last)]
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")


def _remove_path(doc: Any, parts: list[str]) -> Any:
    parent, last = _resolve_parent(doc, parts)
    try:
        if isinstance(parent, dict):
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"unable to remove nonexistent key: {last}: missing value")


def _add_path(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent, last = _resolve_parent(doc, parts)
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        else:
            try:
                idx = int(last)
            except ValueError as exc:
                raise PatchError(f"invalid array index {last!r}") from exc
            if not 0 <= idx <= len(parent):
                raise PatchError(f"add operation does not apply: doc is missing path: {last}")
            parent.insert(idx, copy.deepcopy(value))
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {last}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add_path(doc, parts, op.get("value"))
        elif kind == "remove":
            _remove_path(doc, parts)
        elif kind == "replace":
            _get_path(doc, parts)
            if parts:
                _remove_path(doc, parts)
            doc = _add_path(doc, parts, op.get("value"))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get_path(doc, source))
            if kind == "move":
                _remove_path(doc, source)
            doc = _add_path(doc, parts, value)
        elif kind == "test":
            if _get_path(doc, parts) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def apply_patch(doc: Obj, patch_type: PatchType, patch: Any) -> Obj:
    if patch_type == "json":
        result = json_patch(doc, patch)
    elif patch_type == "strategic":
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be a JSON object")
        result = strategic_merge_patch(doc, patch)
    else:
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object")
        result = merge_patch(doc, patch)
    if not isinstance(result, dict):
        raise PatchError("patch did not produce an object")
    return result
