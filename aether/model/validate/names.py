"""DNS-1123 names (SPEC §3.3.2): metadata.name, template, task and template-input names."""

from __future__ import annotations

import re

from aether.model.validate.context import Context

DNS1123_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS1123 = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\Z")


def check_name(ctx: Context, name: str | None, path: str, kind: str, required: str, prefix: str = "") -> None:
    """Report a missing (``required`` is the message), too long or malformed name.

    ``kind`` names the name in messages: ``metadata.name``, ``template name``,
    ``task name`` or ``parameter name``; ``prefix`` goes before the whole message.
    """
    if not name:
        ctx.error("E-NAME-REQUIRED", path, prefix + required)
        return
    limit = ctx.limits.name_length
    if len(name) > limit:
        ctx.error("E-NAME-TOO-LONG", path, f'{prefix}{kind} "{name}" is too long: max {limit} characters')
        return
    if not _DNS1123.match(name):
        message = f'{prefix}{kind} "{name}" is invalid: must match DNS-1123 ({DNS1123_PATTERN})'
        ctx.error("E-NAME-DNS1123", path, message)
