"""The expression language of SPEC §5 and ``{{ }}`` interpolation of §4.7.

Pure: no IO, clock, randomness, threads or logging. Environments are flat
mappings of dotted keys (SPEC §4.2) that are only ever probed key by key."""

from aether.expr.api import LarkEvaluator, evaluate, evaluate_condition, pretty
from aether.expr.checks import DEFAULT_NAMESPACES, ExprDiagnostic, check_expression
from aether.expr.compiler import Compiled, compile_expression
from aether.expr.errors import ExpressionError
from aether.expr.evaluator import EvalResult
from aether.expr.interpolate import interpolate_string, interpolate_typed
from aether.expr.lookup import lookup
from aether.expr.values import render, to_compact_json

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
