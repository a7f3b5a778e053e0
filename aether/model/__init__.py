"""Layer 1: the aether/v1 documents, loading and validation (SPEC §2 to §4, §13).

Pure, except :func:`load_file`, which reads one file.

The names below are imported on first use: a module that needs one submodule (the
``JSON`` type of ``aether.model.json_value``, say) does not pay for the loader, the YAML
parser and the validator, so that commands that never load a document start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Private aliases: the package's namespace holds its submodules (``aether.model.types``
# among them), so no other module may be bound there under its own name.
from aether.model.lazy_exports import keep_names_over_submodules as _keep_names_over_submodules
from aether.model.lazy_exports import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from aether.model.converter import dump_document, structure, unstructure
    from aether.model.defaults import apply_defaults
    from aether.model.index import template_index
    from aether.model.limits import DEFAULT_LIMITS, Limits
    from aether.model.loader import LoadResult, load_document, load_file
    from aether.model.problems import Problem, ValidationError
    from aether.model.refs import (
        TemplateLookup,
        merge_spec,
        resolve_workflow_refs,
        snapshot_templates,
    )
    from aether.model.submit_args import apply_submit_arguments
    from aether.model.validate import ExpressionCheck, validate

# Each public name and the submodule that defines it.
_HOMES = {
    "DEFAULT_LIMITS": "limits",
    "ExpressionCheck": "validate",
    "Limits": "limits",
    "LoadResult": "loader",
    "Problem": "problems",
    "TemplateLookup": "refs",
    "ValidationError": "problems",
    "apply_defaults": "defaults",
    "apply_submit_arguments": "submit_args",
    "dump_document": "converter",
    "load_document": "loader",
    "load_file": "loader",
    "merge_spec": "refs",
    "resolve_workflow_refs": "refs",
    "snapshot_templates": "refs",
    "structure": "converter",
    "template_index": "index",
    "unstructure": "converter",
    "validate": "validate",
}

__all__ = [
    "DEFAULT_LIMITS",
    "ExpressionCheck",
    "Limits",
    "LoadResult",
    "Problem",
    "TemplateLookup",
    "ValidationError",
    "apply_defaults",
    "apply_submit_arguments",
    "dump_document",
    "load_document",
    "load_file",
    "merge_spec",
    "resolve_workflow_refs",
    "snapshot_templates",
    "structure",
    "template_index",
    "unstructure",
    "validate",
]


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES)

_keep_names_over_submodules(__name__, _HOMES)
