"""The workflow documents the scenarios run, generated at the size asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Document = dict[str, Any]


def fanout(tasks: int, executor: str = "noop") -> Document:
    """``tasks`` independent tasks in one DAG: all ready at once."""
    return _workflow(f"fanout-{tasks}", _dag([{"name": f"t{i}", "executor": {"type": executor}} for i in range(tasks)]))


def chain(tasks: int, executor: str = "noop") -> Document:
    """``tasks`` tasks, each depending on the one before: one ready at a time."""
    steps: list[dict[str, Any]] = [{"name": "t0", "executor": {"type": executor}}]
    steps += [{"name": f"t{i}", "executor": {"type": executor}, "dependencies": [f"t{i - 1}"]} for i in range(1, tasks)]
    return _workflow(f"chain-{tasks}", _dag(steps))


def loop(iterations: int, concurrency: int, executor: str = "noop") -> Document:
    """A loop over ``iterations`` items running at most ``concurrency`` of them at once
    (SPEC §2.5.4, §8.4); 0 runs them all at once."""
    body = {"task": {"name": "work", "executor": {"type": executor}}}
    over = {"loop": {"name": "main", "body": "work", "items": list(range(iterations)), "concurrency": concurrency}}
    return _workflow(f"loop-{iterations}-{concurrency}", over, body)


def write_yaml(document: Document, path: Path) -> Path:
    """``document`` as a user would write it: block-style YAML."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(document, out)
    return path


def _dag(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dag": {"name": "main", "tasks": tasks}}


def _workflow(name: str, *templates: dict[str, Any]) -> Document:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": list(templates)},
    }


def validation_workload(tasks: int) -> Document:
    """A large document that exercises validation: ``tasks`` DAG tasks, each with
    dependencies, a ``when``, a retry expression, argument values of every kind and a
    ``valueFrom``, over two templates (about 1 MB per 1,000 tasks)."""
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": "bench", "namespace": "perf", "labels": {"team": "data"}},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "seed", "value": 42}]},
            "templates": [
                {"dag": {"name": "main", "tasks": [_validated_task(i) for i in range(tasks)]}},
                {
                    "task": {
                        "name": "work",
                        "executor": {"type": "shell", "config": {"command": "run-step --verbose"}},
                        "inputs": {
                            "parameters": [
                                {"name": "index", "type": "int"},
                                {"name": "label", "type": "string"},
                                {"name": "config", "type": "object"},
                                {"name": "previous", "default": ""},
                            ]
                        },
                        "outputs": {"parameters": [{"name": "result"}]},
                    }
                },
                {
                    "task": {
                        "name": "score",
                        "executor": {"type": "python", "config": {"function": "jobs.score:run"}},
                        "outputs": {"parameters": [{"name": "result"}]},
                    }
                },
            ],
        },
    }


def _validated_task(i: int) -> dict[str, Any]:
    needs = [f"step-{j}" for j in range(max(0, i - 3), i)]
    previous = (
        {"parameter": f"tasks.step-{i - 1}.outputs.parameters.result"}
        if i
        else {"expression": "workflow.parameters.seed"}
    )
    task: dict[str, Any] = {
        "name": f"step-{i}",
        "template": "work" if i % 5 else "score",
        "dependencies": needs,
        "arguments": {
            "parameters": [
                {"name": "index", "value": i},
                {"name": "label", "value": f"batch {i // 100} item {i} " + "lorem ipsum " * 2},
                {"name": "config", "value": {"region": "eu-west-1", "shard": i % 16, "tags": ["a", "b"]}},
                {"name": "previous", "valueFrom": previous},
            ]
        },
        "timeout": "10m",
        "retry": {"limit": 2, "expression": f"tasks.step-{i}.phase == 'Error'"},
        "continueOn": {"failed": i % 7 == 0},
    }
    if needs:
        task["when"] = f"tasks.{needs[-1]}.phase == 'Succeeded' && {i % 11} != 3"
    return task
