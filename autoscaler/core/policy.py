"""Policy files: the models ops write, and the lint warnings about valid-but-odd policies.

Policy files are the main interface between ops and the autoscaler. The field names here are a
contract (DESIGN §4): docs, examples and users' files rely on them. Turning text into these
models, with errors that name file, line and field, is ``policyload.py``; this module holds what
a policy *is* (pydantic models, their validation rules, ``describe()`` texts) and ``lint_policy``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from autoscaler.core.durations import format_duration, parse_duration

# ---------------------------------------------------------------------------------------------
# Vocabulary

PERCENT_METRICS = frozenset({"cpu", "heap", "disk"})

MetricName = Literal[
    "cpu",
    "heap",
    "disk",
    "load1",
    "search_queue",
    "write_queue",
    "search_rejections",
    "write_rejections",
    "search_latency_ms",
    "indexing_rate",
]
AggregateName = Literal["avg", "max", "min", "p90"]
METRICS: tuple[str, ...] = get_args(MetricName)
"""Metrics a condition may name (DESIGN §4); the poller derives each from ``_nodes/stats``."""
AGGREGATES: tuple[str, ...] = get_args(AggregateName)
Mode = Literal["active", "dry-run", "paused"]


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"invalid duration {value!r}: write it as a string with a unit, e.g. 30s, 5m or 2h"
        )
    return parse_duration(value)


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    # What parse_duration accepts (spaces around the value are trimmed), so editors and the
    # Helm chart's schema refuse exactly what the service refuses.
    WithJsonSchema({"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$"}),
]
"""Seconds, written in files as ``30s``, ``5m``, ``2h`` or ``1h30m``."""


@dataclass(frozen=True)
class Step:
    """How far one operation moves: a node count, or a percentage of current replicas."""

    count: int | None = None
    percent: float | None = None

    def size(self, current: int) -> int:
        """Nodes to add or remove from ``current``; percentages round up, at least 1."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return max(1, math.ceil(current * self.percent / 100 - 1e-9))

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


def _step(value: Any) -> Step:
    if isinstance(value, Step):
        return value
    if isinstance(value, bool):
        raise ValueError("step must be a whole number of nodes (e.g. 1) or a percentage ('25%')")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"step must be at least 1 node, got {value}")
        return Step(count=value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)
        if m:
            pct = float(m.group(1))
            if not 1 <= pct <= 100:
                raise ValueError(f"a percentage step must be between 1% and 100%, got {value!r}")
            return Step(percent=pct)
        if value.strip().isdigit():
            return _step(int(value))
    raise ValueError(
        f"invalid step {value!r}: use a whole number of nodes (e.g. 1) or a percentage ('25%')"
    )


StepSpec = Annotated[
    Step,
    BeforeValidator(_step),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            # What _step accepts: a count (also quoted, "2"), or a percentage ("25%").
            "oneOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": r"^\s*0*[1-9][0-9]*\s*$"},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
            ]
        }
    ),
]


def _file_defaults(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Show defaults in the JSON Schema as a file spells them (``10s``, not ``10.0``)."""
    for name, info in model.model_fields.items():
        prop = schema.get("properties", {}).get(info.alias or name)
        if not prop or "default" not in prop or info.default is None:
            continue
        if isinstance(info.default, Step):
            prop["default"] = info.default.count or str(info.default)
            continue
        if any(getattr(meta, "func", None) is _duration for meta in info.metadata):
            prop["default"] = format_duration(info.default)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, json_schema_extra=_file_defaults
    )


# ---------------------------------------------------------------------------------------------
# Conditions


class MetricCondition(_Model):
    """``{metric: cpu, aggregate: avg, above: 80, for: 5m}`` over the tier's aggregate."""

    metric: MetricName
    aggregate: AggregateName
    above: float | None = None
    below: float | None = None
    for_: Duration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _one_threshold(self) -> MetricCondition:
        if (self.above is None) == (self.below is None):
            raise ValueError("a metric condition needs exactly one of 'above' or 'below'")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return (self.metric, self.aggregate)

    @property
    def threshold(self) -> float:
        value = self.above if self.above is not None else self.below
        assert value is not None
        return value

    def satisfied_by(self, value: float) -> bool:
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below

    def describe(self) -> str:
        unit = "%" if self.metric in PERCENT_METRICS else ""
        op = ">" if self.above is not None else "<"
        text = f"{self.aggregate} {self.metric} {op} {self.threshold:g}{unit}"
        return text + (f" for {format_duration(self.for_)}" if self.for_ else "")


class AlertCondition(_Model):
    """``{alert: EsHighCpu, labels: {cluster: prod-es}, for: 5m}``: a firing Alertmanager alert."""

    alert: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    for_: Duration | None = Field(default=None, alias="for")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True for an alert with this ``alertname`` whose labels include ``self.labels``."""
        return labels.get("alertname") == self.alert and all(
            labels.get(k) == v for k, v in self.labels.items()
        )

    def describe(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        text = f"alert {self.alert}" + (f"{{{labels}}}" if labels else "")
        return text + (f" for {format_duration(self.for_)}" if self.for_ else "")


class AllOf(_Model):
    """Every child condition holds."""

    all: list[Condition] = Field(min_length=1)

    def describe(self) -> str:
        return " and ".join(_paren(c) for c in self.all)


class AnyOf(_Model):
    """At least one child condition holds."""

    any: list[Condition] = Field(min_length=1)

    def describe(self) -> str:
        return ", or ".join(_paren(c) for c in self.any)


def _paren(c: Condition) -> str:
    text = c.describe()
    return f"({text})" if isinstance(c, AllOf | AnyOf) and len(_children(c)) > 1 else text


def _children(c: Condition) -> list[Condition]:
    if isinstance(c, AllOf):
        return c.all
    if isinstance(c, AnyOf):
        return c.any
    return []


_CONDITION_TAGS = {"metric": "metric-condition", "alert": "alert-condition"}
_CONDITION_TAGS_COMPOSITE = {"all": "all-of", "any": "any-of"}
CONDITION_TAGS = frozenset({*_CONDITION_TAGS.values(), *_CONDITION_TAGS_COMPOSITE.values()})


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {
            MetricCondition: "metric-condition",
            AlertCondition: "alert-condition",
            AllOf: "all-of",
            AnyOf: "any-of",
        }.get(type(value))
    if not isinstance(value, Mapping):
        return None
    kinds = [
        tag for key, tag in (_CONDITION_TAGS | _CONDITION_TAGS_COMPOSITE).items() if key in value
    ]
    return kinds[0] if len(kinds) == 1 else None


Condition = Annotated[
    Annotated[MetricCondition, Tag("metric-condition")]
    | Annotated[AlertCondition, Tag("alert-condition")]
    | Annotated[AllOf, Tag("all-of")]
    | Annotated[AnyOf, Tag("any-of")],
    Discriminator(
        _condition_kind,
        custom_error_type="invalid_condition",
        custom_error_message=(
            "a condition is a mapping with exactly one of 'metric', 'alert', 'all' or 'any'"
        ),
    ),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()


def iter_leaves(condition: Condition) -> Iterable[MetricCondition | AlertCondition]:
    """Every metric and alert condition in a ``when`` tree, depth first."""
    if isinstance(condition, AllOf | AnyOf):
        for child in _children(condition):
            yield from iter_leaves(child)
    else:
        yield condition


# ---------------------------------------------------------------------------------------------
# The policy


def _urls(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ElasticsearchConnection(_Model):
    """How to reach the cluster; secrets only ever by file, never inline."""

    url: Annotated[
        list[str],
        BeforeValidator(_urls),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            }
        ),
    ] = Field(default_factory=lambda: ["http://localhost:9200"], min_length=1)
    apiKeyFile: str | None = None
    username: str | None = None
    passwordFile: str | None = None
    caFile: str | None = None
    verifyCerts: bool = True
    requestTimeout: Duration = 10.0
    pollInterval: Duration = 10.0
    staleAfter: Duration | None = None

    @field_validator("url")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for u in urls:
            scheme, sep, rest = u.partition("://")
            if sep and "@" in rest.split("/", 1)[0]:
                # never echo the URL: it would put the secret in logs and /metrics labels
                raise ValueError(
                    f"{scheme}://…@{rest.split('/', 1)[0].rpartition('@')[2]} has credentials "
                    "in it (user:password@): give the user as 'username' and the password in "
                    "a file named by 'passwordFile', or use 'apiKeyFile'"
                )
            if not re.match(r"^https?://[^/\s]+", u):
                raise ValueError(f"{u!r} is not an http(s) URL")
        return urls

    @model_validator(mode="after")
    def _auth(self) -> ElasticsearchConnection:
        if (self.username is None) != (self.passwordFile is None):
            raise ValueError("basic auth needs both 'username' and 'passwordFile'")
        if self.apiKeyFile and self.username:
            raise ValueError("use either 'apiKeyFile' or 'username'/'passwordFile', not both")
        return self

    @property
    def staleness_limit(self) -> float:
        """How old the newest sample may be before data counts as stale (3 × poll by default)."""
        return self.staleness_for(self.pollInterval)

    def staleness_for(self, poll_interval: float) -> float:
        """The staleness limit when samples arrive every ``poll_interval`` seconds."""
        return self.staleAfter if self.staleAfter is not None else 3 * poll_interval


class NodeSelector(_Model):
    """The tier a policy sizes: nodes having any of ``roles`` (and matching ``namePattern``)."""

    roles: list[str] = Field(default_factory=lambda: ["data"], min_length=1)
    namePattern: str | None = None

    @field_validator("namePattern")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"namePattern is not a valid regular expression: {e}") from e
        return pattern


class StatefulSetTarget(_Model):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)


class AnsibleTarget(_Model):
    scaleUp: str = Field(min_length=1)
    scaleDown: str = Field(min_length=1)
    inventory: str | None = None
    extraVars: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = 1800.0


class Target(_Model):
    """What to scale: exactly one of a StatefulSet or a pair of Ansible playbooks."""

    statefulSet: StatefulSetTarget | None = None
    ansible: AnsibleTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        kinds = [k for k in ("statefulSet", "ansible") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "target needs exactly one of 'statefulSet' or 'ansible'"
                + (f" (got {' and '.join(kinds)})" if kinds else "")
            )
        return self

    def describe(self) -> str:
        if self.statefulSet:
            return f"StatefulSet {self.statefulSet.namespace}/{self.statefulSet.name}"
        assert self.ansible
        return f"Ansible {self.ansible.scaleUp} / {self.ansible.scaleDown}"


class Bounds(_Model):
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def clamp(self, n: int) -> int:
        return max(self.min, min(self.max, n))


class ScaleRule(_Model):
    """When to move in one direction, by how much, and how long to wait afterwards."""

    when: Condition
    step: StepSpec = Step(count=1)
    cooldown: Duration


class Safety(_Model):
    maxDiskPercentAfterScaleDown: float = Field(default=75.0, gt=0, le=100)
    drainTimeout: Duration = 7200.0
    joinTimeout: Duration = 900.0
    rebalanceTimeout: Duration = 7200.0


class Policy(_Model):
    """One policy document (DESIGN §4)."""

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
    elasticsearch: ElasticsearchConnection = Field(default_factory=ElasticsearchConnection)
    nodes: NodeSelector = Field(default_factory=NodeSelector)
    target: Target | None = None
    replicas: Bounds
    scaleUp: ScaleRule | None = None
    scaleDown: ScaleRule | None = None
    safety: Safety = Field(default_factory=Safety)
    mode: Mode = "active"

    @model_validator(mode="after")
    def _has_rule(self) -> Policy:
        if self.scaleUp is None and self.scaleDown is None:
            raise ValueError("a policy needs 'scaleUp', 'scaleDown' or both")
        return self

    def rule(self, direction: Literal["up", "down"]) -> ScaleRule | None:
        return self.scaleUp if direction == "up" else self.scaleDown

    def leaves(self) -> list[MetricCondition | AlertCondition]:
        """Every metric and alert condition of both directions."""
        return [
            leaf
            for rule in (self.scaleUp, self.scaleDown)
            if rule is not None
            for leaf in iter_leaves(rule.when)
        ]

    def metric_keys(self) -> list[tuple[str, str]]:
        """Every ``(metric, aggregate)`` the policy reads, in order of appearance."""
        keys = [leaf.key for leaf in self.leaves() if isinstance(leaf, MetricCondition)]
        return list(dict.fromkeys(keys))

    def sets_disk_limit(self) -> bool:
        """Whether the file sets ``safety.maxDiskPercentAfterScaleDown`` (not only the default)."""
        return "maxDiskPercentAfterScaleDown" in self.safety.model_fields_set

    def observed_keys(self) -> list[tuple[str, str]]:
        """What to poll for this policy: its conditions' keys, plus ``disk.avg`` when it has a
        scale-down and sets the disk limit, so the engine's disk rule has its observation."""
        keys = self.metric_keys()
        if self.scaleDown is not None and self.sets_disk_limit() and ("disk", "avg") not in keys:
            keys.append(("disk", "avg"))
        return keys

    def alert_conditions(self) -> list[AlertCondition]:
        return [leaf for leaf in self.leaves() if isinstance(leaf, AlertCondition)]

    def longest_window(self) -> float:
        """The longest ``for`` of any condition (how much history the policy needs)."""
        return max((leaf.for_ or 0.0 for leaf in self.leaves()), default=0.0)

    def describe(self) -> str:
        """The one-line plain-English summary ``validate`` prints."""
        parts = []
        for sign, rule in (("+", self.scaleUp), ("-", self.scaleDown)):
            if rule is None:
                continue
            noun = "node" if rule.step.count == 1 else "nodes"
            parts.append(
                f"{sign}{rule.step} {noun} when {rule.when.describe()}; "
                f"cooldown {format_duration(rule.cooldown)}"
            )
        bounds = f"bounds {self.replicas.min}–{self.replicas.max}"
        extra = "" if self.mode == "active" else f" [{self.mode}]"
        return f"{self.name}: " + "; ".join([*parts, bounds]) + extra


# ---------------------------------------------------------------------------------------------
# Lint: valid but probably not what was meant


def _dnf(c: Condition) -> list[list[MetricCondition | AlertCondition]]:
    """The condition as a disjunction of conjunctions of leaves."""
    if isinstance(c, AllOf):
        out: list[list[MetricCondition | AlertCondition]] = [[]]
        for child in c.all:
            out = [a + b for a in out for b in _dnf(child)]
        return out
    if isinstance(c, AnyOf):
        return [conj for child in c.any for conj in _dnf(child)]
    return [[c]]


def _overlap(
    up: list[MetricCondition | AlertCondition], down: list[MetricCondition | AlertCondition]
) -> dict[tuple[str, str], tuple[float, float]] | None:
    """Metric ranges where both conjunctions hold at once, or None if they cannot."""
    ranges: dict[tuple[str, str], tuple[float, float]] = {}
    for leaf in [*up, *down]:
        if not isinstance(leaf, MetricCondition):
            continue
        lo, hi = ranges.get(leaf.key, (-math.inf, math.inf))
        if leaf.above is not None:
            lo = max(lo, leaf.above)
        else:
            hi = min(hi, leaf.threshold)
        if lo >= hi:
            return None
        ranges[leaf.key] = (lo, hi)
    up_keys = {leaf.key for leaf in up if isinstance(leaf, MetricCondition)}
    down_keys = {leaf.key for leaf in down if isinstance(leaf, MetricCondition)}
    shared = up_keys & down_keys
    return {k: v for k, v in ranges.items() if k in shared} or None


def _leaves(c: Condition) -> list[MetricCondition | AlertCondition]:
    return [leaf for conj in _dnf(c) for leaf in conj]


# ---------------------------------------------------------------------------------------------
# Lint: valid, but probably not what was meant. Each warning carries a stable code, so that a
# program (the back-test, CI filters, tests) decides by the code, never by matching the text.

OVERLAPPING_DIRECTIONS = "overlapping-directions"
THRESHOLD_NEVER_CROSSED = "threshold-never-crossed"
STALE_BEFORE_NEXT_POLL = "stale-before-next-poll"
NO_TARGET = "no-target"
DISK_LIMIT_WITHOUT_DISK_AVG = "disk-limit-without-disk-avg"
"""Replay only (``lint_replay``): the CSV has no ``disk.avg`` column for the disk limit."""


@dataclass(frozen=True)
class LintWarning:
    """One lint warning: a stable machine ``code``, the top-level ``field`` it is about, and
    the ``message`` for people."""

    code: str
    field: str
    message: str


def _overlap_warning(policy: Policy) -> list[LintWarning]:
    """The first pair of scale-up and scale-down conjunctions that can hold at once."""
    if not (policy.scaleUp and policy.scaleDown):
        return []
    for up in _dnf(policy.scaleUp.when):
        for down in _dnf(policy.scaleDown.when):
            both = _overlap(up, down)
            if both:
                where = ", ".join(
                    f"{agg} {metric} between {lo:g} and {hi:g}"
                    for (metric, agg), (lo, hi) in sorted(both.items())
                )
                return [
                    LintWarning(
                        OVERLAPPING_DIRECTIONS,
                        "scaleDown",
                        "scale-up and scale-down conditions overlap "
                        f"({where}); when both hold, scale-up wins",
                    )
                ]
    return []


def lint_policy(policy: Policy) -> list[LintWarning]:
    """Warnings about a valid policy, wherever it runs: overlapping directions, a percentage
    threshold that can never be crossed, data that goes stale between polls, no target.

    A disk limit without a disk condition is not among them: the service polls ``disk.avg``
    for the limit anyway (``Policy.observed_keys``); only a replay of a CSV without that
    column cannot apply it (``lint_replay``)."""
    out: list[LintWarning] = []
    out.extend(_overlap_warning(policy))
    for field_name, rule in (("scaleUp", policy.scaleUp), ("scaleDown", policy.scaleDown)):
        for leaf in _leaves(rule.when) if rule is not None else []:
            if isinstance(leaf, MetricCondition) and leaf.metric in PERCENT_METRICS:
                never = leaf.above is not None and leaf.above >= 100
                never = never or (leaf.below is not None and leaf.below <= 0)
                if never:
                    out.append(
                        LintWarning(
                            THRESHOLD_NEVER_CROSSED,
                            field_name,
                            f"'{leaf.describe()}' can never hold: {leaf.metric} is a "
                            "percentage from 0 to 100",
                        )
                    )
    es = policy.elasticsearch
    if es.staleAfter is not None and es.staleAfter < es.pollInterval:
        out.append(
            LintWarning(
                STALE_BEFORE_NEXT_POLL,
                "elasticsearch",
                f"staleAfter ({format_duration(es.staleAfter)}) is shorter than pollInterval "
                f"({format_duration(es.pollInterval)}): the data goes stale before the next "
                "poll, so this policy never acts",
            )
        )
    if policy.target is None and policy.mode == "active":
        out.append(
            LintWarning(
                NO_TARGET, "target", "no target: decisions are recorded but nothing is scaled"
            )
        )
    return out


def lint_replay(policy: Policy, *, columns: Iterable[tuple[str, str]]) -> list[LintWarning]:
    """Warnings about replaying ``policy`` on recorded data with these ``columns``
    (``(metric, aggregate)`` keys): a scale-down disk limit the data cannot feed, because the
    engine's disk rule reads ``disk.avg`` (``DISK_LIMIT_WITHOUT_DISK_AVG``)."""
    out: list[LintWarning] = []
    if (
        policy.scaleDown is not None
        and policy.sets_disk_limit()
        and ("disk", "avg") not in set(columns)
    ):
        out.append(
            LintWarning(
                DISK_LIMIT_WITHOUT_DISK_AVG,
                "safety",
                "safety.maxDiskPercentAfterScaleDown is set but the CSV has no disk.avg column: "
                "this replay cannot apply the limit (the service polls disk.avg for it)",
            )
        )
    return out
