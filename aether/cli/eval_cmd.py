"""``aether eval``: evaluate one expression (SPEC §5) against variables given
on the command line. For trying out conditions before putting them in a
workflow."""

from __future__ import annotations

import json
from typing import Any

import typer

_EXIT_ERROR = 2


def _parse_vars(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"--vars is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _fail('--vars must be a JSON object of flat dotted keys, e.g. \'{"tasks.a.phase": "Succeeded"}\'')
    return data


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(_EXIT_ERROR)


def _submit_warnings(expression: str) -> list[str]:
    """The warnings ``aether validate`` reports for this expression (SPEC §3.3.8), so that
    trying a condition here says what submitting it would: a legacy-mode fallback above all,
    whose comparison of texts otherwise looks like an ordinary ``false``. A syntax error is
    left to the evaluation, which reports it with its position."""
    from aether.expr import check_expression

    return [
        f"{diagnostic.code}: {diagnostic.message}"
        for diagnostic in check_expression(expression)
        if diagnostic.severity == "warning" and diagnostic.code != "W-EXPR-SYNTAX"
    ]


def eval_command(
    expression: str = typer.Argument(..., help="The expression, e.g. \"tasks.a.phase == 'Succeeded'\"."),
    vars_json: str | None = typer.Option(
        None,
        "--vars",
        help='Variables as a JSON object of flat dotted keys, e.g. \'{"tasks.a.phase": "Succeeded"}\'.',
    ),
    condition: bool = typer.Option(
        False, "--condition", help="Evaluate as a condition (like `when`): the result is true or false."
    ),
) -> None:
    """Evaluate an expression and print its value as compact JSON.

    Warnings (such as unresolved names) go to stderr. An expression error is
    printed with its code and position, and the exit status is 2.
    """
    # The parser and its grammar load here, not when the commands are registered.
    from aether.expr import ExpressionError, evaluate, evaluate_condition, to_compact_json

    env = _parse_vars(vars_json)
    for warning in _submit_warnings(expression):
        typer.echo(warning, err=True)
    try:
        result = evaluate_condition(expression, env) if condition else evaluate(expression, env)
    except ExpressionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(_EXIT_ERROR) from None
    for warning in result.warnings:
        typer.echo(warning, err=True)
    try:
        text = to_compact_json(result.value)
    except (TypeError, ValueError) as exc:
        raise _fail(f"the value cannot be written as JSON: {exc}") from None
    typer.echo(text)


def register(app: typer.Typer) -> None:
    # An expression may start with "-" (``aether eval -5``): a word that is no option of the
    # command is the expression, not an error.
    app.command("eval", help=eval_command.__doc__, context_settings={"ignore_unknown_options": True})(eval_command)
