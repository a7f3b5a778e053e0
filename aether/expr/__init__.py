"""The expression language of SPEC §5 and ``{{ }}`` interpolation of §4.7.

Pure: no IO, clock, randomness, threads or logging. Environments are flat
mappings of dotted keys (SPEC §4.2) that are only ever probed key by key.

The names below are imported on first use: rendering a value (``aether.expr.values``)
does not load the parser and its grammar."""

from __future__ import annotations

# Private aliases: the package's namespace holds its submodules, so no other module may
# be bound there under its own name.
import importlib as _importlib
import sys as _sys
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING

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


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


class _Package(_ModuleType):
    """The package, whose ``lookup`` stays the function when the submodule of that name is
    imported (the import system then binds the submodule on the package), as it was when
    the package imported its names eagerly."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, _ModuleType) and _HOMES.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
