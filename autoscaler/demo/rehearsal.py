"""A policy file made to run against the demo's simulated cluster, changing as little as possible.

``es-autoscaler demo --policy FILE`` rehearses a real policy: its conditions, steps, cooldowns,
bounds and safety limits are kept as written; only what cannot work against the twin is
replaced — the Elasticsearch connection (URL and credentials point at the twin) — and a
``dry-run`` policy is rehearsed as ``active`` (a rehearsal is for seeing operations). The
StatefulSet the policy names is the one the twin creates. The result is a policy file the real
``serve`` code path loads and validates like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from autoscaler.core.policy import Policy
from autoscaler.core.policyload import load_policy_texts

#: the connection fields kept from the original (timings); url and credentials are replaced
_KEPT_CONNECTION = ("pollInterval", "requestTimeout", "staleAfter")


class RehearsalError(ValueError):
    """A policy that cannot be rehearsed (invalid, ambiguous, or not a StatefulSet policy)."""


@dataclass(frozen=True)
class Rehearsal:
    """The policy as validated, and the document to serve against the twin."""

    policy: Policy
    document: dict[str, Any]
    source: str
    changes: tuple[str, ...]

    @property
    def statefulset(self) -> tuple[str, str]:
        sts = self.policy.target.statefulSet if self.policy.target else None
        assert sts is not None
        return sts.namespace, sts.name

    def text(self, *, es_url: str) -> str:
        doc = dict(self.document)
        es = {k: v for k, v in (doc.get("elasticsearch") or {}).items() if k in _KEPT_CONNECTION}
        doc["elasticsearch"] = {"url": es_url, **es}
        header = f"# rehearsal of {self.source} against the demo's simulated cluster\n"
        return header + yaml.safe_dump(doc, sort_keys=False)


def builtin_policy_text() -> str:
    return resources.files("autoscaler.demo").joinpath("data/policy.yaml").read_text()


def load_rehearsal(path: str | None, *, name: str | None = None) -> Rehearsal:
    """Validate the built-in policy (``None``) or ``path``; pick ``name`` if it holds several."""
    if path is None:
        source, text = "built-in demo policy", builtin_policy_text()
    else:
        source = path
        if Path(path).is_dir():
            raise RehearsalError(
                f"{path}: is a directory; --policy takes one policy file "
                "(add --name when the file holds several policies)"
            )
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RehearsalError(f"{path}: cannot read: {e}") from None
    result = load_policy_texts([(source, text)])
    if result.errors:
        raise RehearsalError("\n".join(str(e) for e in result.errors))
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    loaded = [lp.policy for lp in result.policies]
    chosen = [p for p in loaded if p.name == name] if name is not None else loaded
    if len(chosen) != 1:
        names = ", ".join(p.name for p in loaded)
        raise RehearsalError(
            f"{source}: no policy named {name!r} (has: {names})"
            if name is not None
            else f"{source}: holds {len(loaded)} policies ({names}); pick one with --name"
        )
    policy = chosen[0]
    if policy.target is None or policy.target.statefulSet is None:
        raise RehearsalError(
            f"{source}: policy {policy.name!r} has no StatefulSet target; the demo rehearses "
            "StatefulSet policies (VM/Ansible policies: see README 'VM clusters with Ansible')"
        )
    (document,) = [d for d in docs if d.get("name") == policy.name]
    document = dict(document)
    changes = ["elasticsearch connection → the simulated cluster"]
    if policy.mode != "active":
        document["mode"] = "active"
        changes.append(f"mode {policy.mode} → active")
    return Rehearsal(policy=policy, document=document, source=source, changes=tuple(changes))
