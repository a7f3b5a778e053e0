"""What the command line imports before it can answer: ``aether --version`` and the help
of the command line and of a command load no layer below the command line, so that they
answer at once. A command module registers its commands without importing the engine, the
store, the expression parser or the UI: they are imported when a command runs.

Each case runs the command in a fresh interpreter, which records the modules it loaded on
exit. These are not timings (the benchmarks time start-up); they name what must not load.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest
import typer

from aether.cli.list_filters import PHASES
from aether.cli.main import COMMAND_MODULES
from aether.events.phases import Phase

pytestmark = pytest.mark.spec("6.1", "6.4")

# Runs ``aether`` with the given arguments and writes the names of the loaded modules to
# the file named first, as the interpreter exits (after the command's own exit).
_CHILD = """
import atexit, json, sys

modules_file, *arguments = sys.argv[1:]

def record():
    with open(modules_file, "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)

atexit.register(record)
sys.argv = ["aether", *arguments]
from aether.cli.main import run
run()
"""

# Loaded by none of the cases: the layers below the command line, and the libraries only
# they use.
NEVER = (
    "aether.events",
    "aether.expr",
    "aether.history",
    "aether.model",
    "aether.projections",
    "aether.reducers",
    "aether.runtime",
    "aether.scheduler",
    "aether.store",
    "aether.ui",
    "lark",
    "sqlite_utils",
    "ruamel",
    "yaml",
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg_pool",
    "croniter",
)
# Typer imports pydantic to check the value of any option that is not a flag: on the way
# to a command, the command line's own --install-completion and --show-completion.
BEFORE_A_COMMAND = ("pydantic",)


def loaded_modules(tmp_path: Path, *arguments: str) -> list[str]:
    modules_file = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(modules_file), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(modules_file.read_text(encoding="utf-8"))
    return loaded


def among(loaded: list[str], packages: tuple[str, ...]) -> list[str]:
    """The modules of ``loaded`` that are one of ``packages`` or inside one of them."""
    return [name for name in loaded if any(name == p or name.startswith(p + ".") for p in packages)]


def test_the_version_loads_neither_the_layers_nor_the_terminal_library(tmp_path: Path) -> None:
    loaded = loaded_modules(tmp_path, "--version")
    assert among(loaded, (*NEVER, *BEFORE_A_COMMAND, "rich")) == []
    # Given first, --version is answered before any command module is registered.
    assert among(loaded, ("aether.cli",)) == ["aether.cli", "aether.cli.main", "aether.cli.store_faults"]


def test_the_help_of_the_command_line_loads_no_layer(tmp_path: Path) -> None:
    loaded = loaded_modules(tmp_path, "--help")
    assert among(loaded, (*NEVER, *BEFORE_A_COMMAND)) == []
    # It lists every command, so every command module is registered.
    assert all(f"aether.cli.{module}" in loaded for module in COMMAND_MODULES)


@pytest.mark.parametrize("command", ["get", "run", "list", "replay", "cron", "ui", "worker", "eval", "validate"])
def test_the_help_of_a_command_loads_no_layer_and_no_other_command(tmp_path: Path, command: str) -> None:
    loaded = loaded_modules(tmp_path, command, "--help")
    assert among(loaded, NEVER) == []
    own = next(module for module, names in COMMAND_MODULES.items() if command in names)
    others = [f"aether.cli.{module}" for module in COMMAND_MODULES if module != own]
    # A command module may use another's helpers (run uses wait's), never all of them.
    assert f"aether.cli.{own}" in loaded
    assert len(among(loaded, tuple(others))) <= 1


@pytest.mark.parametrize("module", list(COMMAND_MODULES))
def test_each_command_module_registers_the_commands_the_command_line_expects_of_it(module: str) -> None:
    app = typer.Typer()
    __import__(f"aether.cli.{module}", fromlist=["register"]).register(app)
    names = [command.name for command in app.registered_commands] + [group.name for group in app.registered_groups]
    assert sorted(names) == sorted(COMMAND_MODULES[module])


@pytest.mark.parametrize("package", ["aether.model", "aether.expr", "aether.store"])
def test_every_public_name_of_a_package_that_imports_on_first_use_is_found(
    package: str,
) -> None:
    # ``aether.model.validate`` and ``aether.expr.lookup`` are submodules and functions of
    # the same name: importing the submodule must leave the package's name the function.
    importlib.import_module("aether.model.validate")
    importlib.import_module("aether.expr.lookup")
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, ModuleType), f"{package}.{name} is a module"
        assert name in dir(module)


def test_the_phases_of_the_phase_option_are_the_phases_of_the_runs() -> None:
    assert get_args(Phase) == PHASES
