"""Layer 1: the aether/v1 documents, loading and validation (SPEC §2 to §4, §13).

Pure, except :func:`load_file`, which reads one file.
"""

from __future__ import annotations

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
