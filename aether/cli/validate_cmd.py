"""``aether validate FILE... [--json] [--strict]``: load and validate documents.

Text output is one line per problem, ``FILE:JSONPATH: CODE message`` on stderr (errors
and warnings alike; the code's ``E-``/``W-`` prefix tells them apart), then one summary
line per file on stdout. ``--json`` prints only a JSON array on stdout. Exit status 0
when every file is valid, 2 otherwise. Template references (SPEC §13) are checked against
the WorkflowTemplates of ``--db``; without it they are not, and the summary says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aether.cli.common import problem_line, stored_templates

# The command imports the loader, the expression checks and the executors when it runs:
# registering it (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.model import LoadResult, TemplateLookup

EXIT_OK = 0
EXIT_INVALID = 2


def _load(path: Path, strict: bool, lookup: TemplateLookup | None) -> LoadResult:
    from aether.expr import check_expression
    from aether.model import LoadResult, Problem, load_file
    from aether.runtime.executors import builtin_executors, config_checks

    checks = config_checks(builtin_executors())
    try:
        return load_file(
            path, strict=strict, executor_checks=checks, expression_check=check_expression, template_lookup=lookup
        )
    except Exception as exc:  # the CLI never shows a traceback
        return LoadResult(None, (Problem("E-INTERNAL", "error", "$", f"internal error: {exc}"),))


def _report_text(name: str, result: LoadResult) -> None:
    for problem in result.problems:
        typer.echo(problem_line(name, problem), err=True)
    # Without a database there is nothing to resolve references against: say so.
    unchecked = " (template references not checked: no --db)" if result.unchecked_references else ""
    if result.ok:
        typer.echo(f"{name}: valid{unchecked}")
    else:
        errors = sum(1 for p in result.problems if p.is_error)
        typer.echo(f"{name}: invalid ({errors} error{'s' if errors != 1 else ''}){unchecked}")


def _json_entry(name: str, result: LoadResult) -> dict[str, object]:
    entry: dict[str, object] = {"file": name, "valid": result.ok, "problems": [p.to_json() for p in result.problems]}
    if result.unchecked_references:
        entry["uncheckedReferences"] = list(result.unchecked_references)
    return entry


def validate_command(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Workflow documents (JSON or YAML).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of {file, valid, problems} on stdout.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat every warning as an error.")] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Check template references against this database's WorkflowTemplates."),
    ] = None,
) -> None:
    """Validate aether/v1 documents and print every problem with its JSON path."""
    if db is None:
        results = [(str(path), _load(path, strict, None)) for path in files]
    else:
        with stored_templates(db) as lookup:
            results = [(str(path), _load(path, strict, lookup)) for path in files]
    if json_output:
        report = [_json_entry(name, result) for name, result in results]
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for name, result in results:
            _report_text(name, result)
    raise typer.Exit(EXIT_OK if all(result.ok for _, result in results) else EXIT_INVALID)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
