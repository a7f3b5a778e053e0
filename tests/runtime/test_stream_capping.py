"""Large output is capped, not fatal (SPEC §14.3, §3.2 ``L-VALUE``): a stream longer than a
recordable value keeps its head and its tail joined by a marker naming the bytes left out,
the message names the limit, and the attempt's result can be recorded."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aether.events.assignment import TaskAssignment
from aether.model.limits import DEFAULT_LIMITS
from aether.runtime.executors.shell import ShellExecutor
from aether.runtime.executors.streams import stream_value
from aether.runtime.worker import run_assignment
from aether.scheduler.result_limits import result_problem

pytestmark = pytest.mark.spec("3.2", "14.3")

L_VALUE = DEFAULT_LIMITS.value_bytes


def assignment(command: str) -> TaskAssignment:
    return TaskAssignment(
        id="r:main#1",
        run_id="r",
        node_id="main",
        attempt=1,
        retry_count=0,
        workflow_name="w",
        namespace="default",
        task_name="main",
        template_name="",
        executor_type="shell",
        executor_config={"command": command},
    )


def test_a_short_stream_is_kept_whole() -> None:
    assert stream_value(b"hello\n", b"hello\n", 6) == ("hello\n", 0)


@pytest.mark.parametrize("unit", [b"a", "é".encode(), b"\x01", b'"'])
def test_a_long_stream_keeps_head_and_tail_within_the_limit(unit: bytes) -> None:
    data = b"HEAD" + unit * 400_000 + b"TAIL"
    limit = 4096
    text, omitted = stream_value(data[:200_000], data[-50_000:], len(data), limit)
    assert len(orjson.dumps(text)) <= limit
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert f"…[truncated {omitted} bytes]…" in text
    assert omitted > len(data) - limit


def test_a_whole_stream_whose_escapes_exceed_the_limit_is_cut_too() -> None:
    data = b"\x01" * 1000  # 6 bytes of JSON each
    text, omitted = stream_value(data, data, len(data), 2048)
    assert len(orjson.dumps(text)) <= 2048 and omitted > 0


def test_a_task_printing_more_than_l_value_succeeds_with_its_head_and_tail_marked() -> None:
    command = "echo first; head -c 1100000 /dev/zero | tr '\\0' a; echo; echo last; head -c 400000 /dev/zero >&2"
    result = run_assignment(assignment(command), {"shell": ShellExecutor()})
    assert result.code == 0, result.message
    assert result_problem(result.parameters, DEFAULT_LIMITS) is None
    values: dict[str, Any] = {p.name: p.value for p in result.parameters}
    assert values["stdout"].startswith("first\n") and values["stdout"].endswith("\nlast")
    assert "…[truncated " in values["stdout"] and "…[truncated " in values["stderr"]
    for name in ("stdout", "stderr"):
        assert len(orjson.dumps(values[name])) <= L_VALUE
        assert f"{name} truncated to its head and tail within L-VALUE ({L_VALUE} bytes)" in result.message
