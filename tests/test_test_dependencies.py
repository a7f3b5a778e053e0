"""Only ``aether/testing`` imports the test dependencies (the ``test`` extra): a user who
installs Aether without them can import every other module."""

from __future__ import annotations

import ast
from pathlib import Path

from support.imports import imported_modules, module_name, package_of

import aether

SOURCE_ROOT = Path(aether.__file__).parent.parent
TEST_DEPENDENCIES = ("pytest", "hypothesis", "xdist")
TESTING_PACKAGE = "aether.testing"


def imports_of_test_dependencies() -> dict[str, list[str]]:
    """Module -> the test dependencies it imports, for every module of ``aether``."""
    found: dict[str, list[str]] = {}
    for path in sorted((SOURCE_ROOT / "aether").rglob("*.py")):
        module = module_name(path, SOURCE_ROOT)
        tree = ast.parse(path.read_text(), str(path))
        for line, imported in imported_modules(tree, package_of(module, path)):
            if imported.split(".")[0] in TEST_DEPENDENCIES:
                found.setdefault(module, []).append(f"{imported} (line {line})")
    return found


def test_only_the_testing_package_imports_test_dependencies() -> None:
    found = imports_of_test_dependencies()
    outside = {module: names for module, names in found.items() if not module.startswith(TESTING_PACKAGE)}
    assert not outside, f"test dependencies imported outside {TESTING_PACKAGE}: {outside}"
    # The check sees the imports it is about: the shipped fixtures and contract use pytest.
    assert f"{TESTING_PACKAGE}.fixtures" in found and f"{TESTING_PACKAGE}.contract" in found
