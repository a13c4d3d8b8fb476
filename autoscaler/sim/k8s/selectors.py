"""Label and field selectors (§2.5): parsing, matching and ``LabelSelector`` rendering.

List, watch, the ``scale`` subresource's ``status.selector`` and StatefulSet validation all
need the same selector semantics as ``k8s.io/apimachinery/pkg/labels``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from autoscaler.sim.k8s.errors import bad_request
from autoscaler.sim.k8s.types import Obj

# --------------------------------------------------------------------------------------------
# Label and field selectors (§2.5)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Literal["=", "!=", "in", "notin", "exists", "!"]
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        return not present or value not in self.values


_SET_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQ_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([A-Za-z0-9_./-]+)$")


def _split_terms(selector: str) -> list[str]:
    terms: list[str] = []
    depth = 0
    current = ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current.strip())
    return terms


def parse_label_selector(selector: str) -> list[Requirement]:
    """Parse ``app=es,role in (data,master),!canary``; raises ``K8sError`` 400 on bad syntax."""
    reqs: list[Requirement] = []
    for term in _split_terms(selector):
        if not term:
            continue
        if m := _SET_RE.match(term):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            op: Literal["in", "notin"] = "in" if m.group(2) == "in" else "notin"
            reqs.append(Requirement(m.group(1), op, values))
        elif m := _EQ_RE.match(term):
            reqs.append(Requirement(m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),)))
        elif m := _KEY_RE.match(term):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: invalid label selector: {term!r}")
    return reqs


def selector_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector rendered like ``metav1.LabelSelectorAsSelector(...).String()``."""
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts))


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_FIELDS: dict[str, tuple[str, ...]] = {
    "events": (
        *_COMMON_FIELDS,
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "pods": (*_COMMON_FIELDS, "spec.nodeName", "spec.hostname", "status.phase", "status.podIP"),
}
_FIELD_ALIASES = {"source": "source.component"}


def field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in _FIELD_ALIASES.get(path, path).split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def parse_field_selector(resource: str, selector: str) -> list[tuple[str, str, str]]:
    allowed = _FIELDS.get(resource, _COMMON_FIELDS)
    out: list[tuple[str, str, str]] = []
    for term in _split_terms(selector):
        if not term:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", term)
        if m is None:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        key = m.group(1)
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        out.append((key, "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out
