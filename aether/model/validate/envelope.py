"""Envelope and metadata rules (SPEC §2.3, §3.3.1)."""

from __future__ import annotations

import re

from aether.model.types import API_VERSION, Metadata
from aether.model.validate.context import Context
from aether.model.validate.fields import schema_range
from aether.model.validate.names import check_name

_SEMVER = "^[0-9]+\\.[0-9]+\\.[0-9]+(-[a-zA-Z0-9.]+)?$"
_SEMVER_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[a-zA-Z0-9.]+)?\Z")


def check_envelope(
    ctx: Context,
    api_version: str | None,
    kind: str | None,
    expected_kind: str,
    metadata: Metadata | None,
    has_spec: bool,
) -> None:
    if api_version != API_VERSION:
        ctx.error("E-API-VERSION", "$.apiVersion", f"unsupported apiVersion: {api_version or ''}")
    if kind != expected_kind:
        ctx.error("E-KIND", "$.kind", f"unsupported kind: {kind or ''}")
    name = metadata.name if metadata is not None else None
    check_name(ctx, name, "$.metadata.name", "metadata.name", "metadata.name is required")
    version = metadata.version if metadata is not None else None
    if version is not None and not _SEMVER_RE.match(version):
        schema_range(ctx, "$.metadata.version", "metadata.version", version, f"must be SemVer ({_SEMVER})")
    if not has_spec:
        ctx.error("E-SPEC-REQUIRED", "$.spec", "spec is required")
