"""Benchmark: load_document on a ~5 MB workflow with 5,000 DAG tasks.

Run: ``python bench/bench_validate.py [--tasks N] [--repeat R]``. Prints the best of R
runs of ``load_document`` and its ratio to ``json.loads`` of the same text (the
baseline, measured in the same run). Target: under 1 second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from aether.expr import check_expression
from aether.model import load_document

EXECUTORS = ("echo", "shell", "script", "python", "http", "await")


def _task(i: int) -> dict[str, Any]:
    deps = [f"step-{j}" for j in range(max(0, i - 3), i)]
    task: dict[str, Any] = {
        "name": f"step-{i}",
        "template": "work" if i % 5 else "score",
        "dependencies": deps,
        "arguments": {
            "parameters": [
                {"name": "index", "value": i},
                {"name": "label", "value": f"batch {i // 100} item {i} " + "lorem ipsum " * 2},
                {"name": "config", "value": {"region": "eu-west-1", "shard": i % 16, "tags": ["a", "b"]}},
                {
                    "name": "previous",
                    "valueFrom": {"parameter": f"tasks.step-{i - 1}.outputs.parameters.result"}
                    if i
                    else {"expression": "workflow.parameters.seed"},
                },
            ]
        },
        "timeout": "10m",
        "retry": {"limit": 2, "expression": f"tasks.step-{i}.phase == 'Error'"},
        "continueOn": {"failed": i % 7 == 0},
    }
    if deps:
        task["when"] = f"tasks.{deps[-1]}.phase == 'Succeeded' && {i % 11} != 3"
    return task


def build_document(tasks: int) -> dict[str, Any]:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": "bench", "namespace": "perf", "labels": {"team": "data"}},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "seed", "value": 42}]},
            "templates": [
                {"dag": {"name": "main", "tasks": [_task(i) for i in range(tasks)]}},
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


def best_of(repeat: int, fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    text = json.dumps(build_document(args.tasks), indent=1)
    checks: dict[str, Callable[[dict[str, Any] | None], list[str]]] = {kind: (lambda _c: []) for kind in EXECUTORS}

    def load() -> object:
        return load_document(text, executor_checks=checks, expression_check=check_expression)

    start = time.perf_counter()
    result = load_document(text, executor_checks=checks, expression_check=check_expression)
    first = time.perf_counter() - start
    if not result.ok:
        for problem in result.problems[:10]:
            print(problem, file=sys.stderr)
        return 1

    baseline = best_of(args.repeat, lambda: json.loads(text))
    loaded = best_of(args.repeat, load)
    # CPU time too: wall time on a busy machine says more about the neighbours.
    baseline_cpu = best_of(args.repeat, lambda: json.loads(text), time.process_time)
    loaded_cpu = best_of(args.repeat, load, time.process_time)
    print(f"document: {len(text) / 1e6:.2f} MB, {args.tasks} tasks, {len(result.problems)} problems")
    print(f"json.loads (baseline):  {baseline * 1000:8.1f} ms wall  {baseline_cpu * 1000:8.1f} ms cpu")
    print(
        f"load_document (best):   {loaded * 1000:8.1f} ms wall  {loaded_cpu * 1000:8.1f} ms cpu"
        f"  ({loaded / baseline:.1f}x / {loaded_cpu / baseline_cpu:.1f}x baseline)"
    )
    print(f"load_document (first):  {first * 1000:8.1f} ms wall (cold caches; modules imported beforehand)")
    print(f"target < 1000 ms: {'met' if loaded < 1.0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
