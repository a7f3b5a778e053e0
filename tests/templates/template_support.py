"""What the WorkflowTemplate tests share: documents, and an engine driven by hand.

``Driver`` wires an in-memory engine with no worker threads to a store of WorkflowTemplates
(``TemplateService``) on the same log, on a fake clock, and works its echo tasks inline,
so a run goes from submit to its end in a few milliseconds and deterministically.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.documents import dag, dag_task, executor, task, workflow

from aether.events.assignment import TaskStartReport
from aether.events.times import ms_to_datetime
from aether.model.types import WorkflowTemplate
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.templates import TemplateService, TemplateStore
from aether.runtime.worker import run_assignment
from aether.store.memory import InMemoryEventLog

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=250)
EXECUTORS = {"echo": EchoExecutor()}


def library(name: str, *templates: dict[str, JSON], namespace: str | None = None, **spec: JSON) -> dict[str, JSON]:
    """A WorkflowTemplate document; ``spec`` holds its other fields (``entrypoint``, …)."""
    metadata: dict[str, JSON] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "aether/v1",
        "kind": "WorkflowTemplate",
        "metadata": metadata,
        "spec": {**spec, "templates": list(templates)},
    }


def echo_leaf(name: str) -> dict[str, JSON]:
    return task(name, executor("echo"))


def ref_task(name: str, template_name: str, template: str, **fields: JSON) -> dict[str, JSON]:
    """A DAG task that runs template ``template`` of WorkflowTemplate ``template_name``."""
    return dag_task(name, templateRef={"name": template_name, "template": template}, **fields)


def calling(name: str, template_name: str, template: str, *, namespace: str | None = None) -> dict[str, JSON]:
    """A Workflow whose one task runs ``template_name/template``."""
    return workflow(name, dag("main", ref_task("call", template_name, template)), namespace=namespace)


def extending(name: str, template_name: str, *, namespace: str | None = None, **spec: JSON) -> dict[str, JSON]:
    """A Workflow whose spec comes from WorkflowTemplate ``template_name`` (§13.2)."""
    metadata: dict[str, JSON] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": {"workflowTemplateRef": {"name": template_name}, **spec},
    }


class Driver:
    def __init__(self) -> None:
        self.log = InMemoryEventLog()
        self.clock = FakeClock(T0)
        self.broker = LocalBroker()
        self.store = TemplateStore(self.log)
        self.engine = Engine(
            self.log,
            executors=EXECUTORS,
            broker=self.broker,
            clock=self.clock,
            workers=0,
            template_lookup=self.store.lookup,
        )
        self.templates = TemplateService(self.engine, store=self.store)

    def lookup(self, namespace: str, name: str) -> WorkflowTemplate | None:
        return self.store.lookup(namespace, name)

    def drive(self, run_id: str) -> str:
        """Work the run's tasks and fire its timers until it ends; return its phase."""
        for _ in range(10_000):
            self.engine.pump()
            assignment = self.broker.fetch("w1", None, timeout=0)
            if assignment is not None:
                self.clock.advance(STEP)
                start = TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "w1")
                self.broker.report_started(start)
                self.engine.pump()
                self.clock.advance(STEP)
                self.broker.report_result(
                    run_assignment(assignment, EXECUTORS, now=self.clock.now).report(assignment, "w1")
                )
                continue
            state = self.engine.get_state(run_id)
            if state.terminal:
                return state.phase
            due = self.engine.next_timer_due_ms()
            if due is None:
                raise AssertionError(f"run {run_id} is stuck in {state.phase}")
            self.clock.set(max(ms_to_datetime(due), self.clock.now()))
        raise AssertionError(f"run {run_id} never ended")

    def run(self, document: dict[str, JSON]) -> str:
        run_id = self.engine.submit(document).run_id
        self.drive(run_id)
        return run_id
