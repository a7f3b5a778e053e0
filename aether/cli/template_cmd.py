"""``aether template …``: store, inspect and delete WorkflowTemplates (SPEC §13.1).

Thin: every command opens the engine, wraps it in a ``TemplateService`` and calls one
method. Bad input (an invalid document, an unknown template) prints a clear message and
exits 2 with nothing written: ``apply`` validates every file before it stores any.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from aether.cli.common import DbOption, fail, open_engine, print_json, report_problems, stored_templates

# The commands import the template service, the engine and rich when they run:
# registering them (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.model.json_value import JSON
    from aether.runtime.templates import TemplateError, TemplateService

NamespaceOption = typer.Option(None, "--namespace", "-n", help="Namespace of the template (default: default).")
JsonOption = typer.Option(False, "--json", help="Print JSON on stdout.")


def _service(db: str | None, *, must_exist: bool = True) -> TemplateService:
    from aether.runtime.templates import TemplateService

    return TemplateService(open_engine(db, workers=0, must_exist=must_exist))


def _refused(exc: TemplateError) -> NoReturn:
    fail(f"{exc.code}: {exc.message}")


def _show(view: dict[str, JSON]) -> None:
    from rich.console import Console

    from aether.cli.whole_ids import id_table, print_table

    console = Console()
    spec = view["spec"]
    console.print(
        f"workflow template {view['namespace']}/{view['name']}  revision {view['revision']}  "
        f"updated {view['updatedAt']}"
    )
    console.print(f"entrypoint {spec.get('entrypoint') or '-'}")
    templates = spec.get("templates") or ()
    rows = [[str(body.get("name")), kind] for template in templates for kind, body in template.items()]
    print_table(id_table(("template", "type"), {"template"}, rows), console)


def register(app: typer.Typer) -> None:
    template = typer.Typer(
        name="template", help="Manage WorkflowTemplates (templates that runs reference).", no_args_is_help=True
    )
    app.add_typer(template, name="template")

    @template.command("apply")
    def apply(
        files: list[Path] = typer.Argument(..., metavar="FILE...", help="WorkflowTemplate documents (JSON or YAML)."),
        db: str | None = DbOption,
    ) -> None:
        """Validate and store WorkflowTemplates; a template already stored is replaced.

        Every file is validated first (a templateRef may name a template of another file
        given here); if any is invalid, nothing is stored. Existing runs are not affected."""
        from aether.runtime.engine import Engine
        from aether.runtime.templates import TemplateService
        from aether.store.memory import InMemoryEventLog

        # Validate before anything is written: bad input must not even create the database.
        with stored_templates(db) as lookup:
            checks = TemplateService(Engine(InMemoryEventLog(), workers=0, template_lookup=lookup)).check(files)
        for check in checks:
            report_problems(check.source, list(check.problems))
        invalid = [check.source for check in checks if check.prepared is None]
        if invalid:
            fail(f"nothing applied: {', '.join(invalid)} {'is' if len(invalid) == 1 else 'are'} not valid")
        prepared = [check.prepared for check in checks if check.prepared is not None]
        for outcome in _service(db, must_exist=False).apply(*prepared):
            typer.echo(f"{outcome['namespace']}/{outcome['name']} applied (revision {outcome['revision']})")

    @template.command("list")
    def list_templates(json_output: bool = JsonOption, db: str | None = DbOption) -> None:
        """List the stored WorkflowTemplates."""
        from aether.cli.whole_ids import id_table, print_table

        rows = _service(db).list()
        if json_output:
            print_json(rows)
            return
        cells = [
            [
                f"{row['namespace']}/{row['name']}",
                row["entrypoint"] or "-",
                ", ".join(str(name) for name in row["templates"]),
                str(row["revision"]),
                row["updatedAt"],
            ]
            for row in rows
        ]
        print_table(id_table(("template", "entrypoint", "templates", "revision", "updated"), {"template"}, cells))

    @template.command("get")
    def get(
        name: str = typer.Argument(..., help="Template name (or namespace/name)."),
        namespace: str | None = NamespaceOption,
        json_output: bool = JsonOption,
        db: str | None = DbOption,
    ) -> None:
        """Show a stored WorkflowTemplate."""
        from aether.runtime.templates import TemplateError

        try:
            view = _service(db).get(name, namespace)
        except TemplateError as exc:
            _refused(exc)
        if json_output:
            print_json(view)
        else:
            _show(view)

    @template.command("delete")
    def delete(
        name: str = typer.Argument(..., help="Template name (or namespace/name)."),
        namespace: str | None = NamespaceOption,
        db: str | None = DbOption,
    ) -> None:
        """Delete a stored WorkflowTemplate; runs that used it keep their copy."""
        from aether.runtime.templates import TemplateError

        try:
            _service(db).delete(name, namespace)
        except TemplateError as exc:
            _refused(exc)
        typer.echo(f"deleted {name}")
