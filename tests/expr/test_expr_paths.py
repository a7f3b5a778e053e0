"""SPEC §4.2 lookup and navigation, §5.3 paths and the unresolved-name rule,
§5.4 placeholders inside expressions."""

from __future__ import annotations

import pytest
from expr_helpers import StrictEnv, error, value

from aether.expr import evaluate, lookup

pytestmark = pytest.mark.spec("4.2", "5.3", "5.4")

ENV = {
    "tasks.a.phase": "Succeeded",
    "tasks.a.outputs.parameters.rows": [{"id": 1, "tags": ["x", "y"]}, {"id": 2}],
    "tasks.a.outputs.parameters.count": 3,
    "tasks.detect-os.outputs.parameters.os": "linux",
    "inputs.parameters.cfg": {"region": "eu", "zones": {"primary": "eu-1"}, "my key": 5},
    "inputs.parameters.cfg.region": "override",
    "workflow.parameters.n": 4,
    "loop_iter.index": 0,
    "name": "item-name",
    "nothing": None,
}


# --- lookup() -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tasks.a.phase", "Succeeded"),
        ("tasks.a.outputs.parameters.rows[0]", {"id": 1, "tags": ["x", "y"]}),
        ("tasks.a.outputs.parameters.rows[1].id", 2),
        ("tasks.a.outputs.parameters.rows[-1]", {"id": 2}),
        ("tasks.a.outputs.parameters.rows[0].tags[-2]", "x"),
        ("tasks.a.outputs.parameters.rows[0]['tags'][1]", "y"),
        ('tasks.a.outputs.parameters.rows[0]["id"]', 1),
        ("inputs.parameters.cfg.zones.primary", "eu-1"),
        ("inputs.parameters.cfg.my key", 5),
        ("inputs.parameters.cfg['my key']", 5),
        ("nothing", None),
        ("name", "item-name"),
        ("workflow.arguments.parameters.n", 4),  # alias of workflow.parameters.n
    ],
)
def test_lookup_resolves(path: str, expected: object) -> None:
    assert lookup(StrictEnv(ENV), path) == (True, expected)


def test_lookup_prefers_the_longest_key() -> None:
    # Both `inputs.parameters.cfg.region` and `inputs.parameters.cfg` → region exist.
    assert lookup(StrictEnv(ENV), "inputs.parameters.cfg.region") == (True, "override")


def test_lookup_does_not_fall_back_to_a_shorter_key() -> None:
    env = {"a.b": {"c": 1}, "a": {"b": {"c": 2, "d": 3}}}
    assert lookup(StrictEnv(env), "a.b.c") == (True, 1)
    assert lookup(StrictEnv(env), "a.b.d") == (False, None)


@pytest.mark.parametrize(
    "path",
    [
        "tasks.b.phase",
        "tasks.a.outputs.parameters.rows[2]",
        "tasks.a.outputs.parameters.rows[-3]",
        "tasks.a.outputs.parameters.rows[0].missing",
        "tasks.a.outputs.parameters.rows.id",
        "tasks.a.outputs.parameters.rows['0']",
        "inputs.parameters.cfg[0]",
        "tasks.a.phase.x",
        "",
        ".",
        "a..b",
        "a.",
        "[0]",
        "a[",
        "a[x]",
        "a.[0]",
        "a[0]b",
    ],
)
def test_lookup_misses(path: str) -> None:
    assert lookup(StrictEnv(ENV), path) == (False, None)


def test_lookup_only_probes_keys() -> None:
    env = StrictEnv(ENV)
    lookup(env, "tasks.a.outputs.parameters.rows[0].id")
    assert env.probes[0] == "tasks.a.outputs.parameters.rows[0].id"
    assert "tasks.a.outputs.parameters.rows" in env.probes


# --- paths in expressions ------------------------------------------------------------


def test_bare_paths() -> None:
    assert value("tasks.a.phase", ENV) == "Succeeded"
    assert value("tasks.detect-os.outputs.parameters.os == 'linux'", ENV) is True
    assert value("inputs.parameters.cfg.zones.primary", ENV) == "eu-1"
    assert value("name", ENV) == "item-name"
    assert value("loop_iter.index", ENV) == 0
    assert value("nothing", ENV) is None


def test_indexed_paths() -> None:
    assert value("tasks.a.outputs.parameters.rows[1].id", ENV) == 2
    assert value("tasks.a.outputs.parameters.rows[-1].id", ENV) == 2
    assert value("tasks.a.outputs.parameters.rows[0]['tags'][loop_iter.index + 1]", ENV) == "y"
    assert value("inputs.parameters.cfg['zones'].primary", ENV) == "eu-1"


def test_unresolved_bare_path_is_its_own_text_with_a_warning() -> None:
    result = evaluate("tasks.x.phase == Succeeded", StrictEnv(ENV))
    assert result.value is False
    assert result.warnings == (
        'W-EXPR-UNRESOLVED: "tasks.x.phase" is not defined; using its text',
        'W-EXPR-UNRESOLVED: "Succeeded" is not defined; using its text',
    )
    assert value("tasks.a.phase == Succeeded", ENV) is True
    assert value("tasks.x.phase", ENV) == "tasks.x.phase"


def test_missing_output_compares_false_not_error() -> None:
    assert value("tasks.a.outputs.parameters.s == 'ok'", ENV) is False


def test_unresolved_bare_path_includes_failed_navigation() -> None:
    assert value("inputs.parameters.cfg.zones.secondary", ENV) == "inputs.parameters.cfg.zones.secondary"
    assert value("tasks.a.phase.length", ENV) == "tasks.a.phase.length"


def test_warnings_are_not_repeated() -> None:
    result = evaluate("x == 'a' || x == 'b'", StrictEnv({}))
    assert result.warnings == ('W-EXPR-UNRESOLVED: "x" is not defined; using its text',)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("nope[0]", "E-EXPR-UNDEFINED"),
        ("tasks.b.outputs.parameters.rows[0]", "E-EXPR-UNDEFINED"),
        ("tasks.a.outputs.parameters.rows[2]", "E-EXPR-INDEX"),
        ("tasks.a.outputs.parameters.rows[-3]", "E-EXPR-INDEX"),
        ("tasks.a.outputs.parameters.rows[0].missing", "E-EXPR-KEY"),
        ("tasks.a.outputs.parameters.rows[0]['missing']", "E-EXPR-KEY"),
        ("inputs.parameters.cfg.zones['x']", "E-EXPR-KEY"),
        # A step that does not fit the value is a lookup failure too.
        ("tasks.a.outputs.parameters.rows['id']", "E-EXPR-KEY"),
        ("inputs.parameters.cfg[0]", "E-EXPR-INDEX"),
        ("tasks.a.outputs.parameters.rows[0].id.x", "E-EXPR-KEY"),
        ("tasks.a.outputs.parameters.rows[0].tags.x", "E-EXPR-KEY"),
        ("tasks.a.outputs.parameters.rows[0].id[0]", "E-EXPR-INDEX"),
        # An index of the wrong type is a type error.
        ("tasks.a.outputs.parameters.rows[0.5]", "E-EXPR-TYPE"),
        ("tasks.a.outputs.parameters.rows[true]", "E-EXPR-TYPE"),
        ("tasks.a.outputs.parameters.rows[null]", "E-EXPR-TYPE"),
    ],
)
def test_indexed_path_failures_are_errors(source: str, code: str) -> None:
    assert error(source, ENV).code == code


def test_steps_on_other_values() -> None:
    assert value("[10, 20, 30][1]", ENV) == 20
    assert value("[10, 20, 30][-1]", ENV) == 30
    assert value("(inputs.parameters.cfg).zones.primary", ENV) == "eu-1"
    assert error("[1][3]").code == "E-EXPR-INDEX"
    assert error("'abc'[0]").code == "E-EXPR-INDEX"
    assert error("(1).x").code == "E-EXPR-KEY"


def test_paths_in_the_flat_environment_are_never_iterated() -> None:
    env = StrictEnv(ENV)
    evaluate("tasks.a.phase == 'Succeeded' && default(x.y, 1) == 1 && tasks.a.outputs.parameters.rows[0].id == 1", env)
    assert "tasks.a.phase" in env.probes


# --- placeholders in expressions ----------------------------------------------------------


def test_placeholder_outside_string_is_the_typed_value() -> None:
    assert value("{{tasks.a.outputs.parameters.count}} + 1", ENV) == 4
    assert value("{{ tasks.a.outputs.parameters.rows }}", ENV) == ENV["tasks.a.outputs.parameters.rows"]
    assert value("{{tasks.a.phase}} == 'Succeeded'", ENV) is True
    assert value("{{ tasks.a.outputs.parameters.rows[1].id }}", ENV) == 2
    assert value("{{ inputs.parameters.cfg }}.zones.primary", ENV) == "eu-1"


def test_placeholder_value_cannot_change_the_structure() -> None:
    env = {"inputs.parameters.x": "1 || true", "inputs.parameters.q": "it's"}
    assert value("{{inputs.parameters.x}} == '1 || true'", env) is True
    assert value('{{inputs.parameters.q}} == "it\'s"', env) is True


def test_unresolved_placeholder_is_its_own_text() -> None:
    result = evaluate("{{ tasks.approve.outputs.parameters.decision }} == 'approve'", StrictEnv(ENV))
    assert result.value is False
    assert evaluate("{{ tasks.x.y }}", StrictEnv({})).value == "{{ tasks.x.y }}"
    assert value("{{ tasks.a.outputs.parameters.rows[9] }}", ENV) == "{{ tasks.a.outputs.parameters.rows[9] }}"
    assert value("{{nope[0]}}", ENV) == "{{nope[0]}}"


def test_placeholder_inside_string_is_rendered() -> None:
    assert value("'phase={{tasks.a.phase}}'", ENV) == "phase=Succeeded"
    assert value("'n={{ tasks.a.outputs.parameters.count }}!'", ENV) == "n=3!"
    assert value("'{{tasks.a.outputs.parameters.rows[0].tags}}'", ENV) == "[x y]"
    assert value("'{{ nothing }}'", ENV) == "<nil>"
    assert value("'{{tasks.x.y}} and {{tasks.a.phase}}'", ENV) == "{{tasks.x.y}} and Succeeded"
    assert value("'{{tasks.a.outputs.parameters.count}}'", ENV) == "3"  # rendered, not typed
    assert value("'open {{ only'", ENV) == "open {{ only"


def test_documented_placeholder_forms() -> None:
    env = {"tasks.approve.outputs.parameters.decision": "approve"}
    assert value("{{tasks.approve.outputs.parameters.decision}} == 'approve'", env) is True
    assert value("'{{tasks.approve.outputs.parameters.decision}}' == 'approve'", env) is True
