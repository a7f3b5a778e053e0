"""Template lookup by name (SPEC §3.3.3: on duplicate names the first one is used)."""

from __future__ import annotations

from collections.abc import Iterable

from aether.model.types import Template, WorkflowSpec


def index_templates(templates: Iterable[Template] | None) -> dict[str, Template]:
    index: dict[str, Template] = {}
    for template in templates or ():
        name = template.name
        if name and name not in index:
            index[name] = template
    return index


def template_index(spec: WorkflowSpec | None) -> dict[str, Template]:
    """Name -> template of a spec's well-formed templates; the first wins on duplicates."""
    if spec is None:
        return {}
    return index_templates(spec.templates)
