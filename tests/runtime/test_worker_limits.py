"""The engine's workers judge a result by the engine's own limits, not the defaults: a
result the run's log would refuse is failed by the worker (code 3) before it is
reported, with the limit named."""

from __future__ import annotations

import attrs
import pytest
from support.documents import dag, shell_task, workflow

from aether.events import catalog as ev
from aether.model.limits import DEFAULT_LIMITS
from aether.runtime.engine import Engine

pytestmark = pytest.mark.spec("3.2", "14.1")


def test_a_worker_applies_the_engines_value_limit_before_reporting() -> None:
    limits = attrs.evolve(DEFAULT_LIMITS, value_bytes=1024)
    engine = Engine(workers=1, limits=limits)
    document = workflow("big", dag("main", shell_task("talk", "head -c 4000 /dev/zero | tr '\\\\0' x; echo")))
    view = engine.run(document, timeout=60)
    run_id = str(view["runId"])
    reported = [e for _seq, e in engine.events(run_id) if isinstance(e, ev.TaskResultReported)]
    assert [(e.code, e.parameters) for e in reported] == [(3, ())], "the worker refused it, not the decider"
    assert "L-VALUE" in reported[0].message and "1024" in reported[0].message
