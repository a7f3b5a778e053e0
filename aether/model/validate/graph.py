"""Dependency graphs of one DAG: cycles (E-DAG-CYCLE), entrypoint reachability
(§7.3.1) and transitive dependencies. Tasks are indexes in declaration order; every
walk is iterative, so a 200,000-task chain needs no deep recursion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def find_cycle(dependencies: Sequence[Sequence[int]]) -> list[int] | None:
    """The first cycle met by a depth-first walk that starts at each task in declaration
    order and follows dependencies in their listed order: ``[a, b, c, a]``."""
    state = [0] * len(dependencies)  # 0 unvisited, 1 on the current path, 2 finished
    for start in range(len(dependencies)):
        if state[start]:
            continue
        state[start] = 1
        path = [start]
        stack = [iter(dependencies[start])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state[step] == 1:
                return [*path[path.index(step) :], step]
            if state[step] == 0:
                state[step] = 1
                path.append(step)
                stack.append(iter(dependencies[step]))
    return None


def reachable_from(starts: Iterable[int], dependencies: Sequence[Sequence[int]]) -> set[int]:
    """The starts and every task reachable from them along dependency -> dependent edges."""
    dependents: list[list[int]] = [[] for _ in dependencies]
    for task, deps in enumerate(dependencies):
        for dep in deps:
            dependents[dep].append(task)
    seen = set(starts)
    todo = list(seen)
    while todo:
        for nxt in dependents[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class Ancestors:
    """Transitive dependencies of tasks, computed on demand and kept per task."""

    def __init__(self, dependencies: Sequence[Sequence[int]]) -> None:
        self._dependencies = dependencies
        self._known: dict[int, frozenset[int]] = {}

    def of(self, task: int) -> frozenset[int]:
        known = self._known.get(task)
        if known is None:
            seen: set[int] = set()
            todo = list(self._dependencies[task])
            while todo:
                dep = todo.pop()
                if dep not in seen:
                    seen.add(dep)
                    todo.extend(self._dependencies[dep])
            known = self._known[task] = frozenset(seen)
        return known
