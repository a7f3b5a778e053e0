"""Static discovery of the imports in aether's source, for the layering tests.

The check is static (``ast``) so that it sees every import, including the ones inside
functions that run only on some paths, the relative ones and ``import_module`` calls.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path, source_root: Path) -> str:
    """The dotted name of the module in ``path`` (a package's ``__init__`` names the package)."""
    parts = path.relative_to(source_root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str, path: Path) -> str:
    """The package that relative imports in ``path`` resolve against."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imported_modules(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import anywhere in ``tree`` (module level, in functions,
    in classes, under ``if``/``try``), relative ones resolved against ``package``, plus
    ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name.

    ``from a import b`` yields both ``a`` and ``a.b``: ``b`` may be a submodule."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base_name = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base_name = node.module or ""
            yield node.lineno, base_name
            for alias in node.names:
                yield node.lineno, f"{base_name}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value
