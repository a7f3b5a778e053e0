"""What every rule module shares while one document is validated."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from attrs import define, field

from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.problems import Problem
from aether.model.refs import TemplateRefs
from aether.model.types import Template

ExecutorChecks = Mapping[str, Callable[[dict | None], list[str]]]


@define
class Context:
    """Limits and plug-ins in force, the problem sink and per-document caches.

    ``prefix`` is prepended to every message: the Workflow rules applied to a
    CronWorkflow's ``spec.workflowSpec`` report with ``spec.workflowSpec: `` (§3.3.10).
    """

    limits: Limits = DEFAULT_LIMITS
    executor_checks: ExecutorChecks | None = None
    refs: TemplateRefs | None = None
    prefix: str = ""
    problems: list[Problem] = field(factory=list)
    # Template name -> template of the spec being validated (first wins, §3.3.3).
    templates: dict[str, Template] = field(factory=dict)
    # True while a ``workflowTemplateRef`` is unresolved (no lookup was given): template
    # names may then belong to the WorkflowTemplate, so unknown names are not reported.
    open_names: bool = False
    # Expression source -> its diagnostics; documents repeat expressions a lot.
    expr_cache: dict[str, list[tuple[str, str, str]]] = field(factory=dict)

    def error(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, "error", path, self.prefix + message))

    def warn(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, "warning", path, self.prefix + message))

    def child(self, prefix: str) -> Context:
        """A context that reports into the same list with another message prefix."""
        return Context(self.limits, self.executor_checks, self.refs, prefix, self.problems, {}, False, self.expr_cache)

    def unknown_template(self, name: str) -> bool:
        """True when ``name`` names no template and may be reported as unknown."""
        return name not in self.templates and not self.open_names
