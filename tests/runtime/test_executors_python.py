"""The python executor (SPEC §14.3): a function called in a child process."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from process_watch import alive, wait_for
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.python_exec import PythonExecutor

pytestmark = pytest.mark.spec("14.3")

GRACE = 0.5
WAIT = 30.0
MODULE = "aether_test_pyexec_funcs"

FUNCTIONS = """
import os, sys, time

def add(a, b):
    return a + b

def as_dict(**kwargs):
    return dict(sorted(kwargs.items()))

def nothing():
    return None

def with_default(batch_size, missing="default"):
    return {"batch_size": batch_size, "missing": missing}

def boom():
    raise ValueError("bad input")

def long_boom():
    raise RuntimeError("x" * 10000 + "END")

def not_json():
    return {"when": object()}

def int_keys():
    return {1: "a"}

def nan():
    return float("nan")

def chatty():
    print("noise on stdout")
    print("noise on stderr", file=sys.stderr)
    return 42

def hard_exit():
    sys.stderr.write("dying\\n")
    sys.stderr.flush()
    os._exit(7)

def sleepy(pidfile):
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(30)

class Nested:
    @staticmethod
    def method(x):
        return [x, x]
"""


@pytest.fixture(autouse=True)
def functions_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(FUNCTIONS))
    # The child gets the worker's sys.path: that is how it finds this module.
    monkeypatch.syspath_prepend(str(tmp_path))


def assignment(function: str, *inputs: BoundParameter) -> TaskAssignment:
    return make_assignment("python", {"function": function}, *inputs)


def run(
    function: str,
    *inputs: BoundParameter,
    cancelled: Callable[[], bool] = lambda: False,
    deadline: datetime | None = None,
) -> ExecResult:
    ctx = ExecContext(cancelled=cancelled, deadline=deadline, now=lambda: datetime.now(UTC))
    return PythonExecutor(grace_seconds=GRACE).execute(assignment(function, *inputs), ctx)


def p(name: str, value: Any) -> BoundParameter:
    return BoundParameter(name, value, True)


def outputs(result: ExecResult) -> list[tuple[str, Any]]:
    return [(param.name, param.value) for param in result.parameters]


def test_scalar_return_is_output_result() -> None:
    result = run(f"{MODULE}:add", p("a", 2), p("b", 3))
    assert (result.code, outputs(result)) == (0, [("result", 5)])


def test_dict_return_is_one_output_per_key_and_names_with_dashes_become_underscores() -> None:
    result = run(f"{MODULE}:as_dict", p("batch-size", 10), p("name", "x"), p("obj", {"k": [1.5, None]}))
    assert outputs(result) == [("batch_size", 10), ("name", "x"), ("obj", {"k": [1.5, None]})]


def test_none_return_has_no_outputs() -> None:
    result = run(f"{MODULE}:nothing")
    assert (result.code, result.parameters) == (0, ())


def test_inputs_without_value_are_omitted() -> None:
    result = run(f"{MODULE}:with_default", p("batch-size", 1), BoundParameter("missing", None, False))
    assert outputs(result) == [("batch_size", 1), ("missing", "default")]


def test_dotted_attribute_path() -> None:
    assert outputs(run(f"{MODULE}:Nested.method", p("x", "v"))) == [("result", ["v", "v"])]


def test_exception_is_code_2_with_the_traceback() -> None:
    result = run(f"{MODULE}:boom")
    assert result.code == 2
    assert result.message.startswith("Traceback")
    assert "ValueError: bad input" in result.message


def test_traceback_is_cut_to_the_last_4_kib() -> None:
    result = run(f"{MODULE}:long_boom")
    assert result.code == 2
    assert len(result.message.encode()) <= 4096
    assert result.message.rstrip().endswith("END")


@pytest.mark.parametrize("function", ["not_json", "int_keys", "nan"])
def test_non_json_result_is_code_3(function: str) -> None:
    result = run(f"{MODULE}:{function}")
    assert result.code == 3
    assert result.message.startswith("result is not JSON-serialisable")


def test_printing_does_not_disturb_the_result() -> None:
    assert outputs(run(f"{MODULE}:chatty")) == [("result", 42)]


def test_wrong_arguments_are_an_exception() -> None:
    result = run(f"{MODULE}:add", p("a", 1))
    assert result.code == 2
    assert "TypeError" in result.message


@pytest.mark.parametrize("function", [f"{MODULE}:missing", "aether_no_such_module_xyz:f"])
def test_function_that_cannot_be_loaded_is_code_3(function: str) -> None:
    result = run(function)
    assert result.code == 3
    assert result.message.startswith(f"cannot load {function}")


def test_child_dying_without_a_result_is_code_3() -> None:
    result = run(f"{MODULE}:hard_exit")
    assert result.code == 3
    assert result.message == "python runner exited with status 7: dying"


@pytest.mark.parametrize("function", ["no_colon", ":f", "mod:", 3])
def test_bad_function_reference_is_code_3(function: Any) -> None:
    request = attrs.evolve(assignment("x"), executor_config={"function": function})
    assert PythonExecutor().execute(request, ExecContext(cancelled=lambda: False)).code == 3


def test_cancel_kills_the_child(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cancel = threading.Event()
    box: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: box.append(run(f"{MODULE}:sleepy", p("pidfile", str(pidfile)), cancelled=cancel.is_set))
    )
    thread.start()
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    pid = int(pidfile.read_text())
    cancel.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert box[0].code == 3
    assert wait_for(lambda: not alive(pid), 5.0)


def test_deadline_kills_the_child_with_code_4(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    deadline = datetime(2030, 1, 1, tzinfo=UTC)

    def now() -> datetime:
        # The deadline passes once the function is running, however slow the machine.
        running = pidfile.exists() and pidfile.read_text() != ""
        return deadline + timedelta(seconds=1 if running else -1)

    ctx = ExecContext(cancelled=lambda: False, deadline=deadline, now=now)
    started = time.monotonic()
    result = PythonExecutor(grace_seconds=GRACE).execute(
        assignment(f"{MODULE}:sleepy", p("pidfile", str(pidfile))), ctx
    )
    assert result.code == 4
    assert result.message == "task timed out: deadline exceeded"
    assert time.monotonic() - started < 25
    assert wait_for(lambda: not alive(int(pidfile.read_text())), 5.0)


def test_validate_config() -> None:
    executor = PythonExecutor()
    assert executor.validate_config({"function": "pkg.mod:fn"}) == []
    assert [p.message for p in executor.validate_config({})] == ['python: "function" is required']
    assert [p.message for p in executor.validate_config({"function": "pkg.mod.fn"})] == [
        'python: "function" must be "package.module:function"'
    ]
