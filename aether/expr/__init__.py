"""The expression language of SPEC §5 and ``{{ }}`` interpolation of §4.7.

Pure: no IO, clock, randomness, threads or logging. Environments are flat
mappings of dotted keys (SPEC §4.2) that are only ever probed key by key.

The names below are imported on first use: rendering a value (``aether.expr.values``)
does not load the parser and its grammar."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Private aliases: the package's namespace holds its submodules, so no other module may
# be bound there under its own name.
from aether.model.lazy_exports import keep_names_over_submodules as _keep_names_over_submodules
from aether.model.lazy_exports import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from aether.expr.api import LarkEvaluator, evaluate, evaluate_condition, pretty
    from aether.expr.checks import DEFAULT_NAMESPACES, ExprDiagnostic, check_expression
    from aether.expr.compiler import Compiled, compile_expression
    from aether.expr.errors import ExpressionError
    from aether.expr.evaluator import EvalResult
    from aether.expr.interpolate import interpolate_string, interpolate_typed
    from aether.expr.lookup import lookup
    from aether.expr.values import render, to_compact_json

# Each public name and the submodule that defines it.
_HOMES = {
    "DEFAULT_NAMESPACES": "checks",
    "Compiled": "compiler",
    "EvalResult": "evaluator",
    "ExprDiagnostic": "checks",
    "ExpressionError": "errors",
    "LarkEvaluator": "api",
    "check_expression": "checks",
    "compile_expression": "compiler",
    "evaluate": "api",
    "evaluate_condition": "api",
    "interpolate_string": "interpolate",
    "interpolate_typed": "interpolate",
    "lookup": "lookup",
    "pretty": "api",
    "render": "values",
    "to_compact_json": "values",
}

__all__ = [
    "DEFAULT_NAMESPACES",
    "Compiled",
    "EvalResult",
    "ExprDiagnostic",
    "ExpressionError",
    "LarkEvaluator",
    "check_expression",
    "compile_expression",
    "evaluate",
    "evaluate_condition",
    "interpolate_string",
    "interpolate_typed",
    "lookup",
    "pretty",
    "render",
    "to_compact_json",
]


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES)

_keep_names_over_submodules(__name__, _HOMES)
