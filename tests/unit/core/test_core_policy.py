"""Policy validation: every cross-field rule, with the exact ``FILE:LINE: field.path: message``.

Each case is a whole small YAML file (so the line numbers are visible in the test) and the
exact error lines ``load_policy_texts`` produces.
"""

from __future__ import annotations

import textwrap

import pytest

from autoscaler.core.durations import format_duration, parse_duration
from autoscaler.core.policy import OVERLAPPING_DIRECTIONS, LintWarning, Policy, Step, lint_policy
from autoscaler.core.policyload import load_policy_texts

VALID = """\
name: ok
target:
  statefulSet: {namespace: elastic, name: es-data}
replicas: {min: 2, max: 6}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80, for: 5m}
  step: 1
  cooldown: 10m
"""


def errors(text: str, file: str = "p.yaml") -> list[str]:
    return [str(e) for e in load_policy_texts([(file, textwrap.dedent(text))]).errors]


def test_valid_policy_loads_with_fields_as_written() -> None:
    result = load_policy_texts([("p.yaml", VALID)])
    assert result.ok
    assert result.errors == result.warnings == []
    [loaded] = result.policies
    p = loaded.policy
    assert (loaded.file, loaded.line, p.name, p.mode) == ("p.yaml", 1, "ok", "active")
    assert p.scaleUp is not None
    assert (p.scaleUp.cooldown, p.scaleUp.step, p.replicas.min, p.replicas.max) == (
        600,
        Step(count=1),
        2,
        6,
    )
    assert p.elasticsearch.staleness_limit == 30
    assert p.describe() == "ok: +1 node when avg cpu > 80% for 5m; cooldown 10m; bounds 2–6"


# Each case: (YAML body, exact error lines). The target and name lines are shared; the case
# body starts at line 1 of the file.
CASES = {
    "min_greater_than_max": (
        """\
        name: a
        replicas: {min: 7, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:2: replicas: min (7) is greater than max (3)"],
    ),
    "min_below_one": (
        """\
        name: a
        replicas:
          min: 0
          max: 3
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:3: replicas.min: Input should be greater than or equal to 1"],
    ),
    "step_zero_nodes": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          step: 0
          cooldown: 1m
        """,
        ["p.yaml:5: scaleUp.step: step must be at least 1 node, got 0"],
    ),
    "step_percent_above_100": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          step: 150%
          cooldown: 1m
        """,
        ["p.yaml:5: scaleUp.step: a percentage step must be between 1% and 100%, got '150%'"],
    ),
    "step_percent_below_1": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          step: "0.5%"
          cooldown: 1m
        """,
        ["p.yaml:5: scaleUp.step: a percentage step must be between 1% and 100%, got '0.5%'"],
    ),
    "step_not_a_number": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          step: two
          cooldown: 1m
        """,
        [
            "p.yaml:5: scaleUp.step: invalid step 'two': use a whole number of nodes (e.g. 1) "
            "or a percentage ('25%')"
        ],
    ),
    "step_bool": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m, step: true}
        """,
        [
            "p.yaml:3: scaleUp.step: step must be a whole number of nodes (e.g. 1) "
            "or a percentage ('25%')"
        ],
    ),
    "neither_above_nor_below": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when:
            metric: cpu
            aggregate: avg
          cooldown: 1m
        """,
        ["p.yaml:4: scaleUp.when: a metric condition needs exactly one of 'above' or 'below'"],
    ),
    "both_above_and_below": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when:
            all:
              - {metric: cpu, aggregate: avg, above: 80}
              - {metric: heap, aggregate: avg, above: 80, below: 90}
          cooldown: 1m
        """,
        [
            "p.yaml:7: scaleUp.when.all[1]: a metric condition needs exactly one of "
            "'above' or 'below'"
        ],
    ),
    "unknown_metric_and_aggregate": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: memory, aggregate: mean, above: 80}
          cooldown: 1m
        """,
        [
            "p.yaml:4: scaleUp.when.metric: must be one of 'cpu', 'heap', 'disk', 'load1', "
            "'search_queue', 'write_queue', 'search_rejections', 'write_rejections', "
            "'search_latency_ms' or 'indexing_rate', got 'memory'",
            "p.yaml:4: scaleUp.when.aggregate: must be one of 'avg', 'max', 'min' or 'p90', "
            "got 'mean'",
        ],
    ),
    "condition_of_no_known_kind": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when:
            any:
              - {metric: cpu, aggregate: avg, above: 80}
              - {alert: EsHighCpu, metric: cpu}
              - {threshold: 3}
          cooldown: 1m
        """,
        [
            "p.yaml:7: scaleUp.when.any[1]: a condition is a mapping with exactly one of "
            "'metric', 'alert', 'all' or 'any'",
            "p.yaml:8: scaleUp.when.any[2]: a condition is a mapping with exactly one of "
            "'metric', 'alert', 'all' or 'any'",
        ],
    ),
    "empty_all": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {all: []}
          cooldown: 1m
        """,
        ["p.yaml:4: scaleUp.when.all: List should have at least 1 item after validation, not 0"],
    ),
    "no_target_kind": (
        """\
        name: a
        target: {}
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:2: target: target needs exactly one of 'statefulSet' or 'ansible'"],
    ),
    "two_target_kinds": (
        """\
        name: a
        target:
          statefulSet: {namespace: elastic, name: es}
          ansible: {scaleUp: up.yml, scaleDown: down.yml}
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        [
            "p.yaml:2: target: target needs exactly one of 'statefulSet' or 'ansible' "
            "(got statefulSet and ansible)"
        ],
    ),
    "unknown_field_with_hint": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          colldown: 1m
          cooldown: 1m
        """,
        ["p.yaml:5: scaleUp.colldown: unknown field 'colldown' (did you mean 'cooldown'?)"],
    ),
    "unknown_top_level_field": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        owner: team-search
        """,
        ["p.yaml:4: owner: unknown field 'owner'"],
    ),
    "bad_duration": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80, for: 5 minutes}
          cooldown: 1m
        """,
        [
            "p.yaml:4: scaleUp.when.for: invalid duration '5 minutes': use a number with a "
            "unit, e.g. 30s, 5m, 2h or 1h30m"
        ],
    ),
    "duration_without_unit": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
          cooldown: 300
        """,
        [
            "p.yaml:5: scaleUp.cooldown: invalid duration 300: write it as a string with a "
            "unit, e.g. 30s, 5m or 2h"
        ],
    ),
    "wrong_types": (
        """\
        name: a
        replicas: {min: "3", max: 5.5}
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: high}
          cooldown: 1m
        mode: true
        """,
        [
            "p.yaml:2: replicas.min: Input should be a valid integer, got str '3'",
            "p.yaml:2: replicas.max: Input should be a valid integer, got float 5.5",
            "p.yaml:4: scaleUp.when.above: Input should be a valid number, got str 'high'",
            "p.yaml:6: mode: must be one of 'active', 'dry-run' or 'paused', got True (YAML "
            "reads unquoted on/off/yes/no/true/false as booleans)",
        ],
    ),
    "missing_required_fields": (
        """\
        name: a
        scaleUp:
          when: {metric: cpu, aggregate: avg, above: 80}
        """,
        [
            "p.yaml:1: replicas: required field is missing",
            "p.yaml:2: scaleUp.cooldown: required field is missing",
        ],
    ),
    "no_rule_at_all": (
        """\
        name: a
        replicas: {min: 1, max: 3}
        """,
        ["p.yaml:1: a policy needs 'scaleUp', 'scaleDown' or both"],
    ),
    "bad_name": (
        """\
        name: Prod_Data
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        [
            "p.yaml:1: name: must be 1 to 63 lowercase letters, digits, '.', '_' or '-', starting "
            "and ending with a letter or digit (it names metrics, Events and state), got "
            "'Prod_Data'"
        ],
    ),
    "duplicate_keys": (
        """\
        name: a
        replicas:
          min: 1
          max: 3
          min: 2
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:5: replicas.min: duplicate key"],
    ),
    "yaml_syntax_error": (
        """\
        name: a
        replicas: {min: 1, max: 3
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:3: YAML syntax error: expected ',' or '}', but got ':'"],
    ),
    "document_not_a_mapping": (
        """\
        - name: a
        """,
        ["p.yaml:1: a policy must be a YAML mapping"],
    ),
    "bad_es_url_and_half_basic_auth": (
        """\
        name: a
        elasticsearch:
          url: es:9200
          username: elastic
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:3: elasticsearch.url: 'es:9200' is not an http(s) URL"],
    ),
    "half_basic_auth": (
        """\
        name: a
        elasticsearch:
          username: elastic
        replicas: {min: 1, max: 3}
        scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}
        """,
        ["p.yaml:2: elasticsearch: basic auth needs both 'username' and 'passwordFile'"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_policy_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert errors(text) == expected


def test_acceptance_four_errors_reported_at_once() -> None:
    text = """\
    name: four
    replicas:
      min: 5
      max: 3
    scaleUp:
      when: {metric: cpu, aggregate: avg, above: "80", for: 5m}
      cooldown: 10mins
      stepp: 1
    """
    assert errors(text, file="policies/four.yaml") == [
        "policies/four.yaml:2: replicas: min (5) is greater than max (3)",
        "policies/four.yaml:6: scaleUp.when.above: Input should be a valid number, got str '80'",
        "policies/four.yaml:7: scaleUp.cooldown: invalid duration '10mins': use a number with "
        "a unit, e.g. 30s, 5m, 2h or 1h30m",
        "policies/four.yaml:8: scaleUp.stepp: unknown field 'stepp' (did you mean 'step'?)",
    ]


def test_multiple_documents_per_file_lines_are_file_absolute() -> None:
    text = VALID + "---\n" + VALID.replace("name: ok", "name: second").replace("max: 6", "max: x")
    result = load_policy_texts([("multi.yaml", text)])
    assert [p.policy.name for p in result.policies] == ["ok"]
    assert [str(e) for e in result.errors] == [
        "multi.yaml:13: replicas.max: Input should be a valid integer, got str 'x'"
    ]
    both = load_policy_texts([("multi.yaml", VALID + "---\n" + VALID.replace("ok", "two"))])
    assert [(p.policy.name, p.line) for p in both.policies] == [("ok", 1), ("two", 10)]


def test_empty_documents_are_skipped() -> None:
    result = load_policy_texts([("p.yaml", "---\n" + VALID + "---\n# retired\n---\n")])
    assert result.ok
    assert len(result.policies) == 1
    quoted = load_policy_texts([("p.yaml", VALID + '---\n""\n')])
    assert [str(e) for e in quoted.errors] == ["p.yaml:10: a policy must be a YAML mapping"]


def test_duplicate_policy_names_across_files() -> None:
    result = load_policy_texts([("a.yaml", VALID), ("b.yaml", "# other\n" + VALID)])
    assert [str(e) for e in result.errors] == [
        "b.yaml:2: name: policy name 'ok' is already used in a.yaml:1"
    ]
    assert [p.file for p in result.policies] == ["a.yaml"]


def test_yaml_error_in_one_file_does_not_hide_errors_in_another() -> None:
    result = load_policy_texts([("a.yaml", "name: [\n"), ("b.yaml", VALID.replace("6}", "0}"))])
    assert [e.file for e in result.errors] == ["a.yaml", "b.yaml"]


def test_overlap_warning_when_both_directions_can_hold() -> None:
    text = VALID + (
        "scaleDown:\n  when: {metric: cpu, aggregate: avg, below: 90, for: 10m}\n  cooldown: 30m\n"
    )
    result = load_policy_texts([("p.yaml", text)])
    assert result.ok
    assert [str(w) for w in result.warnings] == [
        "p.yaml:9: scaleDown: scale-up and scale-down conditions overlap "
        "(avg cpu between 80 and 90); when both hold, scale-up wins"
    ]


@pytest.mark.parametrize(
    "down",
    [
        pytest.param("{metric: cpu, aggregate: avg, below: 80}", id="touching_thresholds"),
        pytest.param("{metric: cpu, aggregate: avg, below: 30}", id="disjoint"),
        pytest.param(
            "{all: [{metric: cpu, aggregate: avg, below: 90}, {metric: cpu, aggregate: avg, "
            "below: 50}]}",
            id="conjunction_narrows_below_the_up_threshold",
        ),
    ],
)
def test_no_overlap_warning_when_directions_exclude_each_other(down: str) -> None:
    text = VALID + f"scaleDown:\n  when: {down}\n  cooldown: 30m\n"
    result = load_policy_texts([("p.yaml", text)])
    assert result.ok
    assert result.warnings == []


def test_overlap_found_inside_any_of() -> None:
    policy = Policy.model_validate(
        {
            "name": "x",
            "target": {"statefulSet": {"namespace": "n", "name": "s"}},
            "replicas": {"min": 1, "max": 3},
            "scaleUp": {
                "when": {
                    "any": [{"alert": "A"}, {"metric": "heap", "aggregate": "max", "above": 70}]
                },
                "cooldown": "1m",
            },
            "scaleDown": {
                "when": {"metric": "heap", "aggregate": "max", "below": 75},
                "cooldown": "1m",
            },
        }
    )
    assert lint_policy(policy) == [
        LintWarning(
            OVERLAPPING_DIRECTIONS,
            "scaleDown",
            "scale-up and scale-down conditions overlap (max heap between 70 and 75); "
            "when both hold, scale-up wins",
        )
    ]


def test_no_target_warning_only_in_active_mode() -> None:
    body = VALID.replace("target:\n  statefulSet: {namespace: elastic, name: es-data}\n", "")
    assert [str(w) for w in load_policy_texts([("p.yaml", body)]).warnings] == [
        "p.yaml:1: target: no target: decisions are recorded but nothing is scaled"
    ]
    dry = body + "mode: dry-run\n"
    assert load_policy_texts([("p.yaml", dry)]).warnings == []


@pytest.mark.parametrize(
    ("when", "leaf"),
    [
        ("{metric: cpu, aggregate: avg, above: 100}", "avg cpu > 100%"),
        ("{metric: heap, aggregate: max, above: 150, for: 5m}", "max heap > 150% for 5m"),
        ("{metric: disk, aggregate: min, below: 0}", "min disk < 0%"),
    ],
)
def test_a_percentage_threshold_that_can_never_be_crossed_is_warned(when: str, leaf: str) -> None:
    text = VALID.replace("{metric: cpu, aggregate: avg, above: 80, for: 5m}", when)
    result = load_policy_texts([("p.yaml", text)])
    assert result.ok
    assert [str(w) for w in result.warnings] == [
        f"p.yaml:5: scaleUp: '{leaf}' can never hold: {leaf.split()[1]} is a percentage "
        "from 0 to 100"
    ]


def test_a_threshold_above_100_on_a_metric_that_is_not_a_percentage_is_fine() -> None:
    text = VALID.replace("metric: cpu, aggregate: avg, above: 80", "metric: search_queue, "
                         "aggregate: max, above: 500")  # fmt: skip
    assert load_policy_texts([("p.yaml", text)]).warnings == []


def test_stale_after_shorter_than_the_poll_interval_is_warned() -> None:
    text = VALID + "elasticsearch: {pollInterval: 10s, staleAfter: 5s}\n"
    result = load_policy_texts([("p.yaml", text)])
    assert result.ok
    assert [str(w) for w in result.warnings] == [
        "p.yaml:9: elasticsearch: staleAfter (5s) is shorter than pollInterval (10s): the data "
        "goes stale before the next poll, so this policy never acts"
    ]
    fine = VALID + "elasticsearch: {pollInterval: 10s, staleAfter: 10s}\n"
    assert load_policy_texts([("p.yaml", fine)]).warnings == []


def test_an_overlap_warning_does_not_hide_the_other_warnings() -> None:
    body = VALID.replace("target:\n  statefulSet: {namespace: elastic, name: es-data}\n", "")
    text = body + (
        "scaleDown:\n  when: {metric: cpu, aggregate: avg, below: 90, for: 10m}\n  cooldown: 30m\n"
    )
    fields = [w.field for w in load_policy_texts([("p.yaml", text)]).warnings]
    assert fields == ["scaleDown", "target"]


def test_a_url_of_the_wrong_type_says_a_url_or_a_list_of_urls() -> None:
    assert errors(VALID + "elasticsearch: {url: 9200}\n") == [
        "p.yaml:9: elasticsearch.url: must be a URL or a list of URLs, got int 9200"
    ]


def test_a_misspelt_required_field_is_reported_once_as_unknown_with_the_right_name() -> None:
    text = VALID.replace("  cooldown: 10m\n", "  colldown: 10m\n")
    assert errors(text) == [
        "p.yaml:8: scaleUp.colldown: unknown field 'colldown' (did you mean 'cooldown'?)"
    ]


def test_errors_are_listed_in_file_order() -> None:
    text = VALID.replace("above: 80", "above: high").replace("  cooldown: 10m\n", "")
    assert errors(text) == [
        "p.yaml:5: scaleUp.cooldown: required field is missing",
        "p.yaml:6: scaleUp.when.above: Input should be a valid number, got str 'high'",
    ]


# --- durations and steps ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("1d", 86400),
        ("1.5m", 90),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "5min", "-5m", "5m3"])
def test_bad_duration_is_rejected_with_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 30s, 5m, 2h or 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (300, "5m"),
        (5400, "1h30m"),
        (12.5, "12.5s"),
        (90061, "1d1h1m1s"),
        (-60, "-1m"),
        (299.999, "5m"),
        (0.00334, "0s"),
        (10.015, "10s"),
        (59.96, "1m"),
    ],
)
def test_format_duration_is_short_and_rounds_fractions_to_a_tenth(
    seconds: float, text: str
) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("spec", "current", "size"),
    [
        (1, 10, 1),
        (3, 1, 3),
        ("2", 5, 2),
        ("25%", 4, 1),
        ("25%", 5, 2),
        ("10%", 1, 1),
        ("33.3%", 3, 1),
        ("30%", 10, 3),
        ("100%", 7, 7),
    ],
)
def test_step_size_percent_rounds_up_at_least_one(spec: int | str, current: int, size: int) -> None:
    policy = Policy.model_validate(
        {
            "name": "s",
            "replicas": {"min": 1, "max": 100},
            "scaleUp": {"when": {"alert": "A"}, "step": spec, "cooldown": "1m"},
        }
    )
    assert policy.scaleUp is not None
    assert policy.scaleUp.step.size(current) == size


@pytest.mark.parametrize("text", ["", "\n", "# retired policy\n", "---\n---\n", "null\n"])
def test_a_file_without_any_policy_is_an_error(text: str) -> None:
    result = load_policy_texts([("p.yaml", text)])
    assert result.policies == []
    assert [str(e) for e in result.errors] == [
        "p.yaml:1: no policy in this file (it is empty or only comments)"
    ]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (
            "scaleDown: {when: {metric: cpu, aggregate: avg, below: 90}, cooldown: 1m}\n",
            "overlapping-directions",
        ),
        ("elasticsearch: {pollInterval: 10s, staleAfter: 5s}\n", "stale-before-next-poll"),
        ("mode: active\n", None),
    ],
)
def test_every_lint_warning_carries_its_stable_code(extra: str, code: str | None) -> None:
    """Programs (the back-test, CI filters) decide by the code, never by the message text."""
    warnings = load_policy_texts([("p.yaml", VALID + extra)]).warnings
    assert [w.code for w in warnings] == ([code] if code else [])
    never = VALID.replace("above: 80", "above: 100")
    assert [w.code for w in load_policy_texts([("p.yaml", never)]).warnings] == [
        "threshold-never-crossed"
    ]
    untargeted = VALID.replace("target:\n  statefulSet: {namespace: elastic, name: es-data}\n", "")
    assert [w.code for w in load_policy_texts([("p.yaml", untargeted)]).warnings] == ["no-target"]
