"""The model is layer 1 (docs/architecture.md, "The layers"): it imports no other layer of
aether. Its expression checks are injected (``expression_check``), never imported.

The import check is static (``ast``, ``tests/support/imports.py``) so that it sees every
import, including the ones inside functions that run only on some paths, and relative ones.
``tests/test_layering.py`` checks every layer the same way; this file adds what is the
model's own: every import form, and a process that loads the model alone.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from model_helpers import base, load, tasks, with_changes
from support.imports import imported_modules, module_name, package_of

import aether.model
from aether import model
from aether.model import Limits
from aether.model.types import Workflow
from aether.model.validate import ExpressionCheck

MODEL_DIR = Path(aether.model.__file__).parent
# Every layer below the model in docs/architecture.md; any other ``aether.<package>`` is refused too.
LOWER_LAYERS = ("expr", "events", "reducers", "projections", "scheduler", "store", "runtime", "cli", "history")
ALLOWED = "aether.model"


def foreign_layer(module: str) -> bool:
    """True for a module of aether outside the model (``aether`` alone is the bare package)."""
    parts = module.split(".")
    return parts[0] == "aether" and len(parts) > 1 and parts[1] != "model"


def violations(source: str, package: str) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imported_modules(ast.parse(source), package) if foreign_layer(name)]


def test_the_model_imports_no_lower_layer() -> None:
    files = sorted(MODEL_DIR.rglob("*.py"))
    assert len(files) > 20  # the walk found the package
    found = []
    for path in files:
        module = module_name(path, MODEL_DIR.parent.parent)
        assert module.startswith(ALLOWED), module
        for line, name in violations(path.read_text(encoding="utf-8"), package_of(module, path)):
            found.append(f"{path.relative_to(MODEL_DIR.parent.parent)}:{line}: imports {name}")
    assert found == [], "the model (layer 1) imports a lower layer:\n" + "\n".join(found)


@pytest.mark.parametrize("layer", LOWER_LAYERS)
@pytest.mark.parametrize(
    "template",
    [
        "import aether.{layer}\n",
        "import aether.{layer}.x as y\n",
        "from aether.{layer} import thing\n",
        "from aether import {layer}\n",
        "def f():\n    from aether.{layer}.sub import thing\n    return thing\n",
        "class C:\n    def m(self):\n        try:\n            import aether.{layer}\n"
        "        except ImportError:\n            pass\n",
        "from ...{layer} import thing\n",
        "from ... import {layer}\n",
        "import importlib\nimportlib.import_module('aether.{layer}')\n",
    ],
)
def test_the_import_check_sees_every_form(layer: str, template: str) -> None:
    assert violations(template.format(layer=layer), "aether.model.validate")


def test_the_import_check_allows_the_model_itself() -> None:
    source = (
        "import re\nimport aether\nfrom aether.model import types\nfrom aether import model\n"
        "from . import context\nfrom ..limits import Limits\n"
        "def f():\n    from aether.model.validate import fields\n"
    )
    assert violations(source, "aether.model.validate") == []


def test_importing_and_validating_with_the_model_alone_loads_no_lower_layer() -> None:
    script = (
        "import json, sys\n"
        "from aether.model import load_document\n"
        "doc = " + repr(with_changes(lambda d: tasks(d)[1].update(when="x-1 > 2"))) + "\n"
        "calls = []\n"
        "def check(source, namespaces, limits):\n"
        "    calls.append(source)\n"
        "    return []\n"
        "result = load_document(json.dumps(doc), expression_check=check,\n"
        "                       executor_checks={'echo': lambda c: []})\n"
        "assert result.ok, result.problems\n"
        "assert calls == ['x-1 > 2'], calls\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('aether.') and not m.startswith('aether.model'))\n"
        "assert loaded == [], loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- the injected checker ----------------------------------------------------------------


@frozen
class Diagnostic:
    code: str
    severity: str
    message: str


class StubCheck:
    """Reports ``diagnostic`` for every expression; records the calls."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        self.calls: list[tuple[str, Collection[str], Limits]] = []

    def __call__(self, source: str, known_namespaces: Collection[str], limits: Limits) -> Sequence[Diagnostic]:
        self.calls.append((source, known_namespaces, limits))
        return [self.diagnostic]


WHEN = "(tasks.a.phase == 'Succeeded')"  # not plain (parenthesised): it reaches the checker
WHEN_PATH = "$.spec.templates[0].dag.tasks[1].when"


def _with_when() -> dict[str, Any]:
    return with_changes(lambda d: tasks(d)[1].update(when=WHEN))


def test_validate_calls_the_checker_and_reports_at_the_field_path() -> None:
    document = load(_with_when()).document
    assert isinstance(document, Workflow)
    stub = StubCheck(Diagnostic("W-EXPR-STUB", "warning", "stub says so"))
    limits = Limits(expr_steps=7)
    checker: ExpressionCheck = stub  # the stub satisfies the model's interface
    problems = model.validate(document, limits=limits, expression_check=checker)
    assert [(source, lim) for source, _, lim in stub.calls] == [(WHEN, limits)]
    assert {"tasks", "inputs", "workflow"} <= set(stub.calls[0][1])
    assert [(p.code, p.severity, p.path, p.message) for p in problems] == [
        ("W-EXPR-STUB", "warning", WHEN_PATH, "stub says so")
    ]


def test_load_document_reports_the_checker_error_and_rejects() -> None:
    stub = StubCheck(Diagnostic("E-EXPR-STUB", "error", "no"))
    result = load(_with_when(), expression_check=stub)
    assert [source for source, _, _ in stub.calls] == [WHEN]
    assert [(p.code, p.severity, p.path) for p in result.problems] == [("E-EXPR-STUB", "error", WHEN_PATH)]
    assert not result.ok


def test_the_checker_reaches_a_cron_workflow_spec() -> None:
    doc = {
        "apiVersion": "aether/v1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 * * * *", "workflowSpec": _with_when()["spec"]},
    }
    stub = StubCheck(Diagnostic("W-EXPR-STUB", "warning", "stub"))
    problem = next(p for p in load(doc, expression_check=stub).problems if p.code == "W-EXPR-STUB")
    assert problem.path == "$.spec.workflowSpec.templates[0].dag.tasks[1].when"
    assert problem.message == "spec.workflowSpec: stub"


@pytest.mark.parametrize("entry", [model.load_document, model.load_file, model.validate])
def test_every_validating_entry_point_requires_a_checker(entry: Any) -> None:
    parameter = inspect.signature(entry).parameters["expression_check"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def test_no_checker_is_a_type_error_not_a_silent_skip(tmp_path: Path) -> None:
    import json

    text = json.dumps(base())
    path = tmp_path / "flow.json"
    path.write_text(text)
    document = load(base()).document
    with pytest.raises(TypeError, match="expression_check"):
        model.load_document(text)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="expression_check"):
        model.load_file(path)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="expression_check"):
        model.validate(document)  # type: ignore[call-arg]
