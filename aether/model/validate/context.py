"""What every rule module shares while one document is validated."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

from attrs import define, field

from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.namespaces import KNOWN_NAMESPACES
from aether.model.problems import Problem
from aether.model.refs import TemplateRefs
from aether.model.types import Template

ExecutorChecks = Mapping[str, Callable[[dict | None], list[str]]]


class ExpressionDiagnostic(Protocol):
    """One problem an :class:`ExpressionCheck` found in an expression's text."""

    @property
    def code(self) -> str: ...

    @property
    def severity(self) -> str:
        """``"error"``; anything else is reported as a warning."""
        ...

    @property
    def message(self) -> str: ...


class ExpressionCheck(Protocol):
    """The compile checks of one expression field (SPEC §3.3.8), without a document path.

    The model layer cannot compile expressions: the language is :mod:`aether.expr`,
    the layer below it, which imports the model and not the other way round. So every
    entry point that validates takes the checker from its caller, the way it takes
    ``executor_checks``; callers in the layers below pass ``aether.expr.check_expression``.
    It is given the source text (never empty), the known variable namespaces and the
    limits in force, and returns every diagnostic (an empty sequence when there is none).
    """

    def __call__(
        self, source: str, known_namespaces: Collection[str], limits: Limits, /
    ) -> Sequence[ExpressionDiagnostic]: ...


@define
class Context:
    """Limits and plug-ins in force, the problem sink and per-document caches.

    ``expression_check`` is required: there is no validation without expression checks.

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
    # Compiles expression fields; injected because the expression layer is below this one.
    expression_check: ExpressionCheck = field(kw_only=True)
    # The variable namespaces an expression may read (§5.3): the built-in ones and the
    # namespaces of the variable sources the caller has registered (W-EXPR-HYPHEN).
    namespaces: frozenset[str] = field(default=KNOWN_NAMESPACES, kw_only=True)

    def error(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, "error", path, self.prefix + message))

    def warn(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, "warning", path, self.prefix + message))

    def child(self, prefix: str) -> Context:
        """A context that reports into the same list with another message prefix."""
        return Context(
            self.limits,
            self.executor_checks,
            self.refs,
            prefix,
            self.problems,
            {},
            False,
            self.expr_cache,
            expression_check=self.expression_check,
            namespaces=self.namespaces,
        )

    def unknown_template(self, name: str) -> bool:
        """True when ``name`` names no template and may be reported as unknown."""
        return name not in self.templates and not self.open_names
