"""Loading policy files: YAML with line numbers, and errors that name file, line and field.

The models (``policy.py``) say what a policy is; this module turns ops' text into them the way
a compiler reports mistakes: ``FILE:LINE: field.path: message``, every error at once, never a
traceback. YAML aliases are refused (an alias bomb is a few hundred bytes), duplicate keys and
duplicate policy names are errors, and an unknown field gets a "did you mean".

No IO: ``load_policy_texts`` takes ``(file name, text)`` pairs, so the shell decides where texts
come from (``policyfiles.py`` reads directories and ConfigMap mounts).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from autoscaler.core.policy import (
    CONDITION_TAGS,
    AlertCondition,
    AllOf,
    AnsibleTarget,
    AnyOf,
    Bounds,
    ElasticsearchConnection,
    LintWarning,
    MetricCondition,
    NodeSelector,
    Policy,
    Safety,
    ScaleRule,
    StatefulSetTarget,
    Target,
    lint_policy,
)


@dataclass(frozen=True)
class PolicyError:
    """One problem in a policy file, printable as ``FILE:LINE: field.path: message``."""

    file: str
    line: int
    field: str
    message: str
    code: str = ""
    """A warning's stable machine code (``core.policy``'s lint codes); empty for errors."""

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    file: str
    line: int  # first line of the YAML document
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False)
    """The line of each top-level field written in the document (for later warnings; not
    part of equality: moving a field is no change of policy)."""

    def warning(self, lint: LintWarning) -> PolicyError:
        """``lint`` as a warning at the line of its field (else the document's first)."""
        line = self.field_lines.get(lint.field, self.line)
        return PolicyError(self.file, line, lint.field, lint.message, lint.code)


@dataclass(frozen=True)
class LoadResult:
    policies: list[LoadedPolicy] = field(default_factory=list)
    errors: list[PolicyError] = field(default_factory=list)
    warnings: list[PolicyError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


Path_ = tuple[str | int, ...]


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader refusing YAML aliases: a few hundred bytes of nested aliases expand to
    billions of nodes (issue 9: MemoryError), and a policy never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed in policy files; "
                "write the value out",
                event.start_mark,
            )
        node: yaml.Node | None = super().compose_node(parent, index)
        return node


class _Positions:
    """A YAML document turned into plain Python values plus a path → line map."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int]] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    key = str(key)
                sub = (*path, key)
                if key in out:
                    self.duplicates.append((sub, key_node.start_mark.line + 1))
                self.lines[sub] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, sub)
                self.lines[sub] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node, deep=True)


def _known_field_names() -> list[str]:
    names: set[str] = set()
    for model in (
        MetricCondition,
        AlertCondition,
        AllOf,
        AnyOf,
        ElasticsearchConnection,
        NodeSelector,
        StatefulSetTarget,
        AnsibleTarget,
        Target,
        Bounds,
        ScaleRule,
        Safety,
        Policy,
    ):
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return sorted(names)


_FIELD_NAMES = _known_field_names()


_MISSING = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _locate(data: Any, loc: Sequence[str | int], lines: Mapping[Path_, int]) -> tuple[str, int]:
    """Map a pydantic error location onto the document: a dotted field path and a line."""
    path: list[str | int] = []
    shown: list[str] = []
    cur = data
    for part in loc:
        if isinstance(part, str) and part in CONDITION_TAGS:
            continue  # discriminated-union tags are not fields in the file
        cur = _child(cur, part)
        if cur is not _MISSING:
            path.append(part)
        shown.append(f"[{part}]" if isinstance(part, int) else str(part))
    line = 1
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in lines:
            line = lines[tuple(path[:n])]
            break
    text = ""
    for s in shown:
        text += s if s.startswith("[") or not text else "." + s
    return text, line


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        close = difflib.get_close_matches(name, _FIELD_NAMES, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        # YAML 1.1 reads unquoted on/off/yes/no as booleans: `mode: on` arrives as True.
        hint = (
            " (YAML reads unquoted on/off/yes/no/true/false as booleans)"
            if got in (True, False)
            else ""
        )
        return f"must be one of {expected}, got {got!r}{hint}"
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return (
            "must be 1 to 63 lowercase letters, digits, '.', '_' or '-', starting and ending "
            f"with a letter or digit (it names metrics, Events and state), got {err.get('input')!r}"
        )
    if kind == "list_type" and loc[-1:] == ("url",):
        got = err.get("input")
        return f"must be a URL or a list of URLs, got {type(got).__name__} {got!r}"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind in {"int_type", "float_type", "string_type", "bool_type", "dict_type", "list_type"}:
        msg = f"{msg}, got {type(err.get('input')).__name__} {err.get('input')!r}"
    return msg


def parse_policy_document(
    data: Any, *, file: str, lines: Mapping[Path_, int]
) -> tuple[Policy | None, list[PolicyError]]:
    """Validate one document's data; errors carry file, line and field path."""
    if not isinstance(data, Mapping):
        return None, [PolicyError(file, lines.get((), 1), "", "a policy must be a YAML mapping")]
    try:
        return Policy.model_validate(data), []
    except ValidationError as e:
        errors = []
        raw = e.errors()
        # `colldown:` is reported as unknown with "did you mean 'cooldown'?"; the field it
        # was meant to be is then not also reported missing.
        meant = {
            (*err["loc"][:-1], close[0])
            for err in raw
            if err["type"] == "extra_forbidden"
            for close in [difflib.get_close_matches(str(err["loc"][-1]), _FIELD_NAMES, 1, 0.75)]
            if close
        }
        for err in raw:
            if err["type"] == "missing" and tuple(err["loc"]) in meant:
                continue
            field_path, line = _locate(data, err["loc"], lines)
            errors.append(PolicyError(file, line, field_path, _message(err)))
        return None, errors


def load_policy_texts(sources: Iterable[tuple[str, str]]) -> LoadResult:
    """Parse and validate every document of every ``(file name, YAML text)`` source.

    Collects all errors (YAML syntax, duplicate keys, schema, duplicate policy names) and the
    warnings of :func:`lint_policy`, instead of stopping at the first one.
    """
    policies: list[LoadedPolicy] = []
    errors: list[PolicyError] = []
    warnings: list[PolicyError] = []
    seen: dict[str, LoadedPolicy] = {}
    files: dict[str, int] = {}
    for file, text in sources:
        files.setdefault(file, len(files))
        try:
            nodes = list(yaml.compose_all(text, Loader=_NoAliasLoader))
        except yaml.composer.ComposerError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            errors.append(PolicyError(file, line, "", f"{e.problem or e}"))
            continue
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            errors.append(PolicyError(file, line, "", f"YAML syntax error: {e.problem or e}"))
            continue
        except yaml.YAMLError as e:
            errors.append(PolicyError(file, 1, "", f"YAML error: {e}"))
            continue
        if all(node is None or node.tag == "tag:yaml.org,2002:null" for node in nodes):
            # An empty ConfigMap key or a file of comments only: accepting it would let a
            # reload (or a fresh start) run with no policy, silently scaling nothing.
            errors.append(
                PolicyError(file, 1, "", "no policy in this file (it is empty or only comments)")
            )
            continue
        for node in nodes:
            if node is None or node.tag == "tag:yaml.org,2002:null":
                continue  # an empty document, e.g. after a trailing '---'
            pos = _Positions()
            try:
                data = pos.build(node, ())
            except yaml.YAMLError as e:
                errors.append(PolicyError(file, node.start_mark.line + 1, "", f"YAML error: {e}"))
                continue
            for path, line in pos.duplicates:
                dotted = ".".join(str(p) for p in path)
                errors.append(PolicyError(file, line, dotted, "duplicate key"))
            policy, errs = parse_policy_document(data, file=file, lines=pos.lines)
            errors.extend(errs)
            if policy is None:
                continue
            doc_line = node.start_mark.line + 1
            top = {p[0]: n for p, n in pos.lines.items() if len(p) == 1 and isinstance(p[0], str)}
            loaded = LoadedPolicy(policy, file, doc_line, top)
            if policy.name in seen:
                first = seen[policy.name]
                errors.append(
                    PolicyError(
                        file,
                        pos.lines.get(("name",), doc_line),
                        "name",
                        f"policy name {policy.name!r} is already used in {first.file}:{first.line}",
                    )
                )
                continue
            seen[policy.name] = loaded
            policies.append(loaded)
            warnings.extend(loaded.warning(w) for w in lint_policy(policy))
    # In file order, as an editor shows them (the schema reports missing fields last).
    errors.sort(key=lambda e: (files.get(e.file, 0), e.line))
    return LoadResult(policies, errors, warnings)
