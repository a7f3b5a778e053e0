"""Worker rules around one execution (SPEC §14.1) and the secret providers (SPEC §15)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import aether.expr
from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter, ResultParameter, SecretRef
from aether.model.problems import Problem
from aether.runtime.executors.base import ExecContext, ExecResult, ExecutorPlugin
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.secrets import (
    EnvSecretProvider,
    MappingSecretProvider,
    SecretNotFound,
    SecretProvider,
    env_var_name,
)
from aether.runtime.worker import run_assignment

pytestmark = pytest.mark.spec("4.7", "14.1", "14.2", "15")

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
SECRETS = MappingSecretProvider({"db": {"password": "hunter22", "pin": "123"}, "api": {"token": "tok-XYZ"}})


class Capture:
    """An executor that records what it was handed and answers with ``respond``."""

    type = "capture"

    def __init__(self, respond: Callable[[TaskAssignment, ExecContext], Any] = lambda r, c: ExecResult()) -> None:
        self.respond = respond
        self.request: TaskAssignment | None = None
        self.ctx: ExecContext | None = None

    def validate_config(self, config: Mapping[str, Any] | None) -> list[Problem]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        self.request, self.ctx = request, ctx
        result: ExecResult = self.respond(request, ctx)
        return result


def assignment(
    executor_type: str = "capture",
    config: dict[str, Any] | None = None,
    inputs: tuple[BoundParameter, ...] = (),
    deadline: str | None = None,
) -> TaskAssignment:
    return TaskAssignment(
        id="run-7:main/t#1",
        run_id="run-7",
        node_id="main/t",
        attempt=1,
        retry_count=0,
        workflow_name="nightly",
        namespace="ops",
        task_name="t",
        template_name="",
        executor_type=executor_type,
        executor_config=config,
        inputs=inputs,
        deadline=deadline,
    )


def secret(name: str, secret_name: str, key: str) -> BoundParameter:
    return BoundParameter(name, secret_key_ref=SecretRef(secret_name, key))


def run(
    a: TaskAssignment,
    executor: ExecutorPlugin,
    *,
    secrets: SecretProvider | None = SECRETS,
    now: Callable[[], datetime] = lambda: T0,
    vars_env: Mapping[str, Any] | None = None,
) -> ExecResult:
    executors: dict[str, ExecutorPlugin] = {executor.type: executor}
    return run_assignment(a, executors, secrets=secrets, vars_env=vars_env or {}, now=now, cancelled=lambda: False)


# --- dispatching to the executor ---------------------------------------------


def test_unknown_executor_type_is_code_3() -> None:
    result = run(assignment("nope"), Capture())
    assert result == ExecResult(3, "unknown executor type: nope")


def test_executor_gets_context_with_deadline_clock_and_cancel_flag() -> None:
    capture = Capture()
    flags = iter([False, True])
    result = run_assignment(
        assignment(deadline="2026-03-01T10:00:05.000Z"),
        {"capture": capture},
        secrets=None,
        vars_env={},
        now=lambda: T0,
        cancelled=lambda: next(flags),
        artifacts="store",
    )
    assert result == ExecResult()
    ctx = capture.ctx
    assert ctx is not None
    assert ctx.deadline == T0 + timedelta(seconds=5)
    assert ctx.now() == T0
    assert ctx.seconds_left() == 5.0
    assert (ctx.cancelled(), ctx.cancelled()) == (False, True)
    assert ctx.artifacts == "store"


def test_deadline_without_offset_is_utc() -> None:
    capture = Capture()
    run(assignment(deadline="2026-03-01T10:00:05"), capture)
    assert capture.ctx is not None and capture.ctx.deadline == T0 + timedelta(seconds=5)


def test_invalid_deadline_is_code_3() -> None:
    result = run(assignment(deadline="tomorrow"), Capture())
    assert result == ExecResult(3, "invalid deadline: 'tomorrow'")


def test_worker_does_not_enforce_the_deadline_itself() -> None:
    # echo ignores deadlines (SPEC §14.2); the engine's deadline timer is what times it out.
    a = assignment("echo", inputs=(BoundParameter("x", 1, True),), deadline="2020-01-01T00:00:00.000Z")
    result = run(a, EchoExecutor())
    assert result.code == 0


def test_exception_is_code_3_with_its_message() -> None:
    def boom(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        raise RuntimeError("disk on fire")

    assert run(assignment(), Capture(boom)) == ExecResult(3, "disk on fire")


def test_exception_without_message_names_its_type() -> None:
    def boom(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        raise KeyError()

    assert run(assignment(), Capture(boom)) == ExecResult(3, "KeyError")


def test_exception_after_the_deadline_is_code_4() -> None:
    clock = [T0]

    def slow_then_boom(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        clock[0] = T0 + timedelta(seconds=10)
        raise TimeoutError("socket read timed out")

    result = run(assignment(deadline="2026-03-01T10:00:05.000Z"), Capture(slow_then_boom), now=lambda: clock[0])
    assert result == ExecResult(4, "task timed out: socket read timed out")


def test_exception_before_the_deadline_is_code_3() -> None:
    def boom(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        raise TimeoutError("socket read timed out")

    result = run(assignment(deadline="2026-03-01T10:00:05.000Z"), Capture(boom))
    assert result == ExecResult(3, "socket read timed out")


def test_non_result_return_is_code_3() -> None:
    result = run(assignment(), Capture(lambda r, c: {"code": 0}))
    assert result.code == 3
    assert "returned dict" in result.message


# --- secrets -------------------------------------------------------------------


def test_secret_inputs_are_resolved_before_execution() -> None:
    capture = Capture()
    run(assignment(inputs=(BoundParameter("user", "app", True), secret("pw", "db", "password"))), capture)
    assert capture.request is not None
    assert capture.request.inputs == (
        BoundParameter("user", "app", True),
        BoundParameter("pw", "hunter22", True),
    )


def test_missing_secret_is_code_3() -> None:
    result = run(assignment(inputs=(secret("pw", "db", "nope"),)), Capture())
    assert result == ExecResult(3, "secret \"db/nope\": secret has no key 'nope'")
    result = run(assignment(inputs=(secret("pw", "vault", "x"),)), Capture())
    assert result == ExecResult(3, 'secret "vault/x": no such secret')


def test_secret_without_provider_is_code_3() -> None:
    capture = Capture()
    result = run(assignment(inputs=(secret("pw", "db", "password"),)), capture, secrets=None)
    assert result == ExecResult(3, 'secret "db/password": no secret provider configured')
    assert capture.request is None


def test_failing_provider_is_code_3() -> None:
    class Broken:
        def get(self, name: str, key: str) -> str:
            raise ConnectionError("vault unreachable")

    result = run(assignment(inputs=(secret("pw", "db", "password"),)), Capture(), secrets=Broken())
    assert result == ExecResult(3, 'secret "db/password": vault unreachable')


# --- redaction -------------------------------------------------------------------


def test_outputs_containing_a_secret_are_redacted() -> None:
    def leak(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return ExecResult(
            0,
            "logged in with hunter22 and tok-XYZ",
            (
                ResultParameter("plain", "hunter22", True, "string"),
                ResultParameter("inside", "pw=hunter22;", True),
                ResultParameter("nested", {"auth": ["x", {"t": "tok-XYZ"}]}, True),
                ResultParameter("as-key", {"hunter22": 1}, True),
                ResultParameter("clean", {"n": 1, "s": "fine"}, True),
                ResultParameter("empty", None, False),
            ),
        )

    a = assignment(inputs=(secret("pw", "db", "password"), secret("t", "api", "token")))
    result = run(a, Capture(leak))
    assert result.message == "logged in with <redacted> and <redacted>"
    assert [p.to_wire() for p in result.parameters] == [
        {"name": "plain", "type": "string", "value": "<redacted>"},
        {"name": "inside", "value": "<redacted>"},
        {"name": "nested", "value": "<redacted>"},
        {"name": "as-key", "value": "<redacted>"},
        {"name": "clean", "value": {"n": 1, "s": "fine"}},
        {"name": "empty"},
    ]


def test_numeric_output_matching_a_secret_is_redacted() -> None:
    provider = MappingSecretProvider({"s": {"k": "987654"}})
    result = run(
        assignment(inputs=(secret("x", "s", "k"),)),
        Capture(lambda r, c: ExecResult.outputs({"n": 19876543, "m": 5})),
        secrets=provider,
    )
    assert [(p.name, p.value) for p in result.parameters] == [("n", "<redacted>"), ("m", 5)]


def test_secrets_shorter_than_4_characters_are_not_redacted() -> None:
    result = run(
        assignment(inputs=(secret("pin", "db", "pin"),)),
        Capture(lambda r, c: ExecResult.outputs({"v": "pin is 123"}, message="123")),
    )
    assert result.message == "123"
    assert result.parameters[0].value == "pin is 123"


def test_echoed_secret_input_is_redacted() -> None:
    result = run(
        assignment("echo", inputs=(secret("pw", "db", "password"), BoundParameter("x", 1, True))),
        EchoExecutor(),
    )
    assert [p.to_wire() for p in result.parameters] == [
        {"name": "pw", "value": "<redacted>"},
        {"name": "x", "value": 1},
    ]


def test_redaction_applies_to_failures_too() -> None:
    def boom(request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        raise ValueError("bad password hunter22")

    result = run(assignment(inputs=(secret("pw", "db", "password"),)), Capture(boom))
    assert result == ExecResult(3, "bad password <redacted>")


# --- executor.config interpolation -------------------------------------------------


def test_config_without_placeholders_is_passed_unchanged() -> None:
    capture = Capture()
    config = {"command": ["echo", "x"], "n": 3, "nested": {"k": [True, None, "s"]}}
    run(assignment(config=config), capture)
    assert capture.request is not None
    assert capture.request.executor_config == config


def test_config_strings_are_interpolated_recursively_with_the_flat_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in for aether.expr.interpolate_string that shows what it was called with;
    # the real one is exercised by the next test.
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake(text: str, env: Mapping[str, Any]) -> str:
        calls.append((text, dict(env)))
        return f"<{text}>"

    monkeypatch.setattr(aether.expr, "interpolate_string", fake, raising=False)
    capture = Capture()
    config = {
        "url": "{{inputs.parameters.host}}",
        "list": ["{{a}}", 1, ["{{b}}"]],
        "obj": {"{{key}}": "{{c}}"},
        "plain": "no placeholder",
    }
    inputs = (
        BoundParameter("host", "example", True),
        BoundParameter("defaulted", None, False, default="dflt"),
        BoundParameter("unset", None, False),
        secret("pw", "db", "password"),
    )
    run(
        assignment(config=config, inputs=inputs),
        capture,
        vars_env={"system.os": "linux", "workflow.name": "shadowed"},
    )
    assert capture.request is not None
    assert capture.request.executor_config == {
        "url": "<{{inputs.parameters.host}}>",
        "list": ["<{{a}}>", 1, ["<{{b}}>"]],
        "obj": {"{{key}}": "<{{c}}>"},
        "plain": "no placeholder",
    }
    assert [text for text, _ in calls] == ["{{inputs.parameters.host}}", "{{a}}", "{{b}}", "{{c}}"]
    assert calls[0][1] == {
        "system.os": "linux",
        "workflow.name": "nightly",
        "workflow.namespace": "ops",
        "workflow.runId": "run-7",
        "inputs.parameters.host": "example",
        "inputs.parameters.defaulted": "dflt",
        "inputs.parameters.pw": "hunter22",
    }


def test_interpolation_failure_is_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(text: str, env: Mapping[str, Any]) -> str:
        raise ValueError("placeholder limit exceeded")

    monkeypatch.setattr(aether.expr, "interpolate_string", fake, raising=False)
    result = run(assignment(config={"a": "{{x}}"}), Capture())
    assert result == ExecResult(3, "executor config: placeholder limit exceeded")


def test_config_is_interpolated_with_the_real_interpolator() -> None:
    # Needs aether.expr.interpolate_string (SPEC §4.7), written in parallel with this module.
    capture = Capture()
    config = {
        "command": "deploy {{inputs.parameters.target}} to {{deploy.cluster}}",
        "args": ["{{workflow.name}}/{{workflow.runId}}", "{{inputs.parameters.n}}", "{{missing.key}}"],
        "env": {"NS": "{{workflow.namespace}}", "PW": "{{inputs.parameters.pw}}"},
    }
    inputs = (
        BoundParameter("target", "web", True),
        BoundParameter("n", 3, True),
        secret("pw", "db", "password"),
    )
    run(assignment(config=config, inputs=inputs), capture, vars_env={"deploy.cluster": "eu-1"})
    assert capture.request is not None
    assert capture.request.executor_config == {
        "command": "deploy web to eu-1",
        "args": ["nightly/run-7", "3", "{{missing.key}}"],
        "env": {"NS": "ops", "PW": "hunter22"},
    }


# --- secret providers ---------------------------------------------------------------


def test_env_var_name() -> None:
    assert env_var_name("db-main", "password") == "AETHER_SECRET_DB_MAIN_PASSWORD"
    assert env_var_name("a.b", "c/d") == "AETHER_SECRET_A_B_C_D"


def test_env_provider_reads_aether_secret_variables() -> None:
    provider = EnvSecretProvider({"AETHER_SECRET_DB_MAIN_PASSWORD": "s3cret"})
    assert provider.get("db-main", "password") == "s3cret"
    with pytest.raises(SecretNotFound, match="AETHER_SECRET_DB_MAIN_USER is not set"):
        provider.get("db-main", "user")


def test_env_provider_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = EnvSecretProvider()
    monkeypatch.setenv("AETHER_SECRET_API_TOKEN", "late")
    assert provider.get("api", "token") == "late"


def test_mapping_provider() -> None:
    assert isinstance(SECRETS, SecretProvider)
    assert SECRETS.get("db", "password") == "hunter22"
    with pytest.raises(SecretNotFound):
        SECRETS.get("db", "missing")
    with pytest.raises(SecretNotFound):
        SECRETS.get("missing", "password")


def test_secret_not_found_is_a_lookup_error_with_plain_text() -> None:
    error = SecretNotFound("no such secret")
    assert isinstance(error, LookupError)
    assert str(error) == "no such secret"
