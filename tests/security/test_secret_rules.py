"""The worker's secret rules (issue 14): no secret value in a command or an output name, and the
providers the command line chains (SPEC §4.7, §14.1, §15)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter, SecretRef
from aether.model.problems import Problem
from aether.runtime.executors import builtin_executors
from aether.runtime.executors.base import ExecContext, ExecResult, ExecutorPlugin
from aether.runtime.secrets import (
    ChainedSecretProvider,
    EnvSecretProvider,
    MappingSecretProvider,
    SecretNotFound,
    SecretsFileError,
    load_secrets_file,
)
from aether.runtime.worker import run_assignment

pytestmark = pytest.mark.spec("4.7", "14.1", "14.3", "15")

PASSWORD = "hunter22-secret"
SECRETS = MappingSecretProvider({"db": {"password": PASSWORD, "pin": "123"}})


class Capture:
    """Records the request it is handed; answers with fixed outputs."""

    type = "capture"

    def __init__(self, outputs: Mapping[str, Any] | None = None) -> None:
        self.outputs = dict(outputs or {})
        self.request: TaskAssignment | None = None

    def validate_config(self, config: Mapping[str, Any] | None) -> list[Problem]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        self.request = request
        return ExecResult.outputs(self.outputs)


class CommandCapture(Capture):
    type = "command-capture"
    command_fields = ("command",)


def run(executor: ExecutorPlugin, config: dict[str, Any], *extra: BoundParameter) -> ExecResult:
    inputs = (
        BoundParameter("pw", secret_key_ref=SecretRef("db", "password")),
        BoundParameter("pin", secret_key_ref=SecretRef("db", "pin")),
        BoundParameter("who", "ada", True),
        *extra,
    )
    assignment = make_assignment(executor.type, config, *inputs)
    return run_assignment(assignment, {executor.type: executor, **builtin_executors()}, secrets=SECRETS)


# --- a secret in a command ----------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    ["{{inputs.parameters.pw}}", "{{ inputs.parameters.pw }}", "{{inputs.parameters.pin}}"],
)
def test_a_secret_placeholder_in_a_command_field_is_refused_before_execution(placeholder: str) -> None:
    executor = CommandCapture()
    result = run(executor, {"command": f"login --password {placeholder}"})
    assert executor.request is None  # nothing ran
    assert result.code == 3
    name = "pin" if "pin" in placeholder else "pw"
    assert result.message == (
        f'executor config "command": {placeholder} would put the secret input "{name}" into the command, '
        f"where other users of the machine can read it; read $AETHER_INPUT_{name.upper()} instead"
    )


def test_a_secret_placeholder_in_an_array_command_is_refused() -> None:
    executor = CommandCapture()
    result = run(executor, {"command": ["login", "{{inputs.parameters.pw}}"]})
    assert executor.request is None
    assert result.code == 3 and "$AETHER_INPUT_PW" in result.message


@pytest.mark.parametrize(
    ("executor_type", "config"),
    [
        ("shell", {"command": "echo {{inputs.parameters.pw}}"}),
        ("shell", {"command": ["echo", "{{inputs.parameters.pw}}"]}),
        ("shell", {"command": "echo {{inputs.parameters.pw}}", "quote": True}),
        ("script", {"runtime": "sh", "source": "echo {{inputs.parameters.pw}}"}),
        ("script", {"runtime": "sh {{inputs.parameters.pw}}", "source": "true"}),
    ],
)
def test_the_builtin_process_executors_refuse_a_secret_in_their_command(
    executor_type: str, config: dict[str, Any]
) -> None:
    result = run(builtin_executors()[executor_type], config)
    assert result.code == 3
    assert "would put the secret input" in result.message
    assert PASSWORD not in result.message


def test_a_secret_reaches_the_environment_and_non_command_fields() -> None:
    executor = CommandCapture()
    config = {"command": "login", "env": {"PW": "{{inputs.parameters.pw}}"}, "header": "{{inputs.parameters.pw}}"}
    result = run(executor, config)
    assert result.code == 0
    assert executor.request is not None and executor.request.executor_config == {
        "command": "login",
        "env": {"PW": PASSWORD},
        "header": PASSWORD,
    }


def test_an_executor_without_command_fields_may_interpolate_a_secret_anywhere() -> None:
    # The http executor puts an Authorization header together this way; no process sees it.
    executor = Capture()
    assert run(executor, {"command": "Bearer {{inputs.parameters.pw}}"}).code == 0
    assert executor.request is not None and executor.request.executor_config == {"command": f"Bearer {PASSWORD}"}


def test_other_placeholders_in_a_command_are_still_interpolated() -> None:
    executor = CommandCapture()
    assert run(executor, {"command": "hello {{inputs.parameters.who}} {{inputs.parameters['pw']}}"}).code == 0
    assert executor.request is not None
    # The bracket form does not resolve in a config (SPEC §4.2 keys), so it stays as written.
    assert executor.request.executor_config == {"command": "hello ada {{inputs.parameters['pw']}}"}


def test_the_shell_reads_the_secret_from_its_environment() -> None:
    result = run(
        builtin_executors()["shell"],
        {"command": 'test "$AETHER_INPUT_PW" = "$EXPECTED"', "env": {"EXPECTED": "{{inputs.parameters.pw}}"}},
    )
    assert result.code == 0, result.message


# --- output names -------------------------------------------------------------------


def test_an_output_named_by_a_secret_is_refused_and_dropped() -> None:
    executor = Capture({PASSWORD: 1, f"x-{PASSWORD}": 2, "kept": 3, "value": f"is {PASSWORD}"})
    result = run(executor, {})
    assert result.code == 3
    assert result.message == "2 output name(s) contain a secret value; they were dropped"
    assert [(p.name, p.value) for p in result.parameters] == [("kept", 3), ("value", "<redacted>")]
    assert PASSWORD not in json.dumps([[p.name, p.value] for p in result.parameters])


def test_a_secret_shorter_than_the_redaction_minimum_does_not_refuse_names() -> None:
    # "123" is the pin: redacting 3-character texts would redact half the world (SPEC §14.1).
    result = run(Capture({"123": 1}), {})
    assert result.code == 0


def test_the_refusal_keeps_the_original_message_after_it() -> None:
    class Failing(Capture):
        def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
            return ExecResult.outputs({PASSWORD: 1}, 2, f"exit status 1: bad {PASSWORD}")

    result = run(Failing(), {})
    assert result.code == 3
    assert result.message == "1 output name(s) contain a secret value; they were dropped: exit status 1: bad <redacted>"


# --- providers ----------------------------------------------------------------------


def test_the_chain_answers_from_the_first_provider_that_has_the_secret() -> None:
    chain = ChainedSecretProvider(
        [MappingSecretProvider({"db": {"password": "from-file"}}), EnvSecretProvider({"AETHER_SECRET_DB_USER": "u"})]
    )
    assert chain.get("db", "password") == "from-file"
    assert chain.get("db", "user") == "u"
    with pytest.raises(SecretNotFound, match="secret has no key 'host'; environment variable AETHER_SECRET_DB_HOST"):
        chain.get("db", "host")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("s.json", '{"db-main": {"password": "p4ss"}}'),
        ("s.yaml", "db-main:\n  password: p4ss\n"),
        ("s", "db-main: {password: p4ss}"),
    ],
)
def test_a_secrets_file_is_json_or_yaml(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert load_secrets_file(path).get("db-main", "password") == "p4ss"


def test_a_missing_secrets_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretsFileError, match=r"cannot read secrets file .*nope\.yaml"):
        load_secrets_file(tmp_path / "nope.yaml")


def test_a_non_string_secret_is_refused_without_its_value(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"db": {"pin": 987654}}', encoding="utf-8")
    with pytest.raises(SecretsFileError) as caught:
        load_secrets_file(path)
    assert '"db/pin" must be a string, not int' in str(caught.value)
    assert "987654" not in str(caught.value)


def test_the_command_line_provider_pickles_into_a_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Executors run in a process pool (Engine(process_types=...)) get the provider pickled.
    path = tmp_path / "s.yaml"
    path.write_text("db: {password: from-file}\n", encoding="utf-8")
    provider = ChainedSecretProvider([load_secrets_file(path), EnvSecretProvider()])
    copy = pickle.loads(pickle.dumps(provider))
    monkeypatch.setenv("AETHER_SECRET_DB_USER", "rotated")
    assert copy.get("db", "password") == "from-file"
    assert copy.get("db", "user") == "rotated"
