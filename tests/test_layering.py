"""The layers of docs/architecture.md, checked against the imports of every module.

The layer table of docs/architecture.md is the single statement of the rules: each row
names a package of ``aether``, its number and whether it is pure. A package imports only
packages with a smaller number (or itself); a pure package imports no module that does IO,
reads the clock, starts threads or logs. The check is static (``tests/support/imports.py``):
it sees imports inside functions, classes, ``if`` and ``try``, relative imports and
``importlib.import_module("...")`` with a literal name, which a check at import time
would miss on the paths it does not run.

The top-level modules ``aether/__init__.py`` and ``aether/__main__.py`` belong to no
layer and may import anything.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from attrs import frozen
from support.imports import imported_modules, module_name, package_of

import aether

PACKAGE_DIR = Path(aether.__file__).parent
SOURCE_ROOT = PACKAGE_DIR.parent
ARCHITECTURE = SOURCE_ROOT / "docs" / "architecture.md"
LAYER_ROW = re.compile(r"^\| (\d+) \| `aether/([a-z_]+)` \| (pure|shell) \| (.+) \|$")

# Modules whose import means IO, the clock, threads, processes or logging: a pure layer
# computes from its arguments alone, so it imports none of them.
IMPURE_MODULES = frozenset(
    {
        "sqlite3",
        "sqlite_utils",
        "threading",
        "subprocess",
        "socket",
        "logging",
        "time",
        "os",
        "random",
        "uuid",
        "asyncio",
        "multiprocessing",
        "concurrent",
        "shutil",
        "tempfile",
        "http",
        "urllib",
    }
)
# The exceptions, each with its reason. An exception the source no longer needs fails the
# test, so the list cannot outlive the code it excuses.
PURE_LAYER_EXCEPTIONS: Mapping[tuple[str, str], str] = {
    (
        "aether/model/loader.py",
        "os",
    ): "load_file names the document's path (os.PathLike, os.fspath) and sizes it (os.fstat) "
    "to refuse an oversized file before reading it; the model's only IO is reading the one "
    "file its caller names",
}


@frozen
class Layer:
    number: int
    package: str
    pure: bool


@frozen
class ImportSite:
    path: str  # relative to the source root, e.g. aether/store/sqlite.py
    line: int
    importer: str  # the importing module's dotted name
    imported: str  # the dotted name it imports

    def where(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported}"


def layer_table(text: str) -> dict[str, Layer]:
    layers = {}
    for line in text.splitlines():
        match = LAYER_ROW.match(line)
        if match:
            number, package, kind, _what = match.groups()
            layers[package] = Layer(int(number), package, kind == "pure")
    return layers


@pytest.fixture(scope="module")
def layers() -> dict[str, Layer]:
    return layer_table(ARCHITECTURE.read_text(encoding="utf-8"))


def packages() -> list[str]:
    """Every package directly under aether/."""
    return sorted(path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py"))


def import_sites_of(source: str, path: Path) -> list[ImportSite]:
    module = module_name(path, SOURCE_ROOT)
    relative = path.relative_to(SOURCE_ROOT).as_posix()
    return [
        ImportSite(relative, line, module, imported)
        for line, imported in imported_modules(ast.parse(source, str(path)), package_of(module, path))
    ]


@functools.cache
def all_import_sites() -> tuple[ImportSite, ...]:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    return tuple(site for path in files for site in import_sites_of(path.read_text(encoding="utf-8"), path))


def layer_package(module: str) -> str | None:
    """The package of aether that ``module`` belongs to; None for a module outside aether
    or for the top-level package itself (``aether``, ``aether.__version__``)."""
    parts = module.split(".")
    if parts[0] != "aether" or len(parts) < 2 or not (PACKAGE_DIR / parts[1] / "__init__.py").exists():
        return None
    return parts[1]


def upward_imports(sites: Iterable[ImportSite], layers: Mapping[str, Layer]) -> list[str]:
    found = []
    reported: set[tuple[str, int, str]] = set()  # ``from a import b, c`` is one offence
    for site in sites:
        importer, imported = layer_package(site.importer), layer_package(site.imported)
        if importer is None or imported is None or importer == imported:
            continue
        if layers[imported].number >= layers[importer].number and (site.path, site.line, imported) not in reported:
            reported.add((site.path, site.line, imported))
            found.append(
                f"{site.where()} — aether/{importer} is layer {layers[importer].number}, "
                f"aether/{imported} is layer {layers[imported].number}"
            )
    return found


def impure_imports(sites: Iterable[ImportSite], layers: Mapping[str, Layer]) -> tuple[list[str], set[tuple[str, str]]]:
    """(the IO imports of pure layers that no exception excuses, the exceptions used)."""
    found, excused = [], set()
    for site in sites:
        package = layer_package(site.importer)
        top = site.imported.split(".")[0]
        if package is None or not layers[package].pure or top not in IMPURE_MODULES:
            continue
        if (site.path, top) in PURE_LAYER_EXCEPTIONS:
            excused.add((site.path, top))
        else:
            found.append(f"{site.path}:{site.line}: imports {top} — aether/{package} is a pure layer")
    return list(dict.fromkeys(found)), excused  # ``from os import path`` is one offence


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts; None if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return [*path[path.index(successor) :], successor]
            if successor not in state:
                cycle = visit(successor)
                if cycle is not None:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle is not None:
                return cycle
    return None


# --- the table ------------------------------------------------------------------------------


def test_the_table_lists_every_package_once_with_its_own_number(layers: dict[str, Layer]) -> None:
    missing = [package for package in packages() if package not in layers]
    assert missing == [], f"packages of aether missing from the layer table of {ARCHITECTURE.name}: {missing}"
    numbers = sorted(layer.number for layer in layers.values())
    assert numbers == list(range(1, len(layers) + 1)), f"the layers are not numbered 1..n once each: {numbers}"


# --- the rules ------------------------------------------------------------------------------


def test_every_package_imports_only_lower_layers(layers: dict[str, Layer]) -> None:
    found = upward_imports(all_import_sites(), layers)
    assert found == [], "imports that go up the layers of docs/architecture.md:\n" + "\n".join(found)


def test_the_pure_layers_import_nothing_that_does_io(layers: dict[str, Layer]) -> None:
    assert any(layer.pure for layer in layers.values())
    found, excused = impure_imports(all_import_sites(), layers)
    assert found == [], "a pure layer imports IO, the clock, threads or logging:\n" + "\n".join(found)
    stale = sorted(set(PURE_LAYER_EXCEPTIONS) - excused)
    assert stale == [], f"exceptions the code no longer needs (remove them): {stale}"


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for site in all_import_sites():
        importer, imported = layer_package(site.importer), layer_package(site.imported)
        if importer is not None and imported is not None and importer != imported:
            graph.setdefault(importer, set()).add(imported)
    cycle = find_cycle(graph)
    assert cycle is None, "packages import each other: " + " -> ".join(cycle or [])


def test_no_cycle_between_the_modules_of_a_package() -> None:
    """Cycles among the plain modules of one package (however deferred: an import inside a
    function only hides a cycle). A package's ``__init__`` gathers its modules' names and is
    left out: importing a package's module runs that ``__init__`` anyway."""
    modules = {
        module_name(path, SOURCE_ROOT): path.relative_to(SOURCE_ROOT).as_posix()
        for path in PACKAGE_DIR.rglob("*.py")
        if path.name != "__init__.py"
    }
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for site in all_import_sites():
        if (
            site.importer in modules
            and site.imported in modules
            and site.imported != site.importer
            and layer_package(site.importer) == layer_package(site.imported)
        ):
            graph.setdefault(site.importer, set()).add(site.imported)
            lines.setdefault((site.importer, site.imported), f"{site.path}:{site.line}")
    cycle = find_cycle(graph)
    assert cycle is None, "modules import each other: " + ", ".join(
        f"{lines[(a, b)]}: {a} imports {b}" for a, b in zip(cycle or [], (cycle or [])[1:], strict=False)
    )


# --- the check can fail ---------------------------------------------------------------------

TABLE = """\
| 1 | `aether/model` | pure | documents |
| 8 | `aether/store` | shell | the log |
| 7 | `aether/history` | pure | verify, fork |
"""


def test_the_table_rows_are_read_from_markdown() -> None:
    assert layer_table(TABLE + "| - | `replay/` | - | recorded histories |\n") == {
        "model": Layer(1, "model", True),
        "store": Layer(8, "store", False),
        "history": Layer(7, "history", True),
    }


@pytest.mark.parametrize(
    "source",
    [
        "from aether.store.base import EventLog\n",
        "def export(log):\n    from ..store import base\n    return base\n",
        "import importlib\nstore = importlib.import_module('aether.store.sqlite')\n",
    ],
)
def test_an_upward_import_is_named_with_its_file_and_line(source: str) -> None:
    path = PACKAGE_DIR / "history" / "example.py"
    found = upward_imports(import_sites_of(source, path), layer_table(TABLE))
    assert found, source
    assert found[0].startswith("aether/history/example.py:"), found
    assert "imports aether.store" in found[0] and "layer 7" in found[0] and "layer 8" in found[0], found


def test_a_downward_or_own_import_and_the_top_level_package_pass() -> None:
    source = "from aether import __version__\nfrom aether.model import types\nfrom . import fork\n"
    path = PACKAGE_DIR / "history" / "example.py"
    assert upward_imports(import_sites_of(source, path), layer_table(TABLE)) == []


def test_io_in_a_pure_layer_is_named() -> None:
    source = "def now():\n    import time\n    return time.time()\n"
    found, _ = impure_imports(import_sites_of(source, PACKAGE_DIR / "history" / "example.py"), layer_table(TABLE))
    assert found == ["aether/history/example.py:2: imports time — aether/history is a pure layer"]
    shell, _ = impure_imports(import_sites_of(source, PACKAGE_DIR / "store" / "example.py"), layer_table(TABLE))
    assert shell == []


def test_a_cycle_is_found_and_spelled_out() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
