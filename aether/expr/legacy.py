"""Legacy mode (SPEC §5.10): the reference engine's evaluator, for a text that
does not compile but has the form ``<left> == <right>`` or ``<left> != <right>``.

Sides are compared as rendered text. Placeholders in a side are interpolated,
as in every expression field (SPEC §4.7)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from aether.expr.interpolate import Slot, interpolate_string, split
from aether.expr.lookup import lookup
from aether.expr.values import render

# A side that reads like a variable key: names and dots, optional [..] steps.
_KEY_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+|\[[^\[\]]*\])*")


@frozen
class LegacyForm:
    op: str  # "==" or "!="
    left: str
    right: str


def split_legacy(source: str) -> LegacyForm | None:
    """Trim, then split at the first ``==``, or if there is none at the first
    ``!=``; each side trimmed. None if the text has neither."""
    text = source.strip()
    at = text.find("==")
    op = "=="
    if at < 0:
        at = text.find("!=")
        op = "!="
    if at < 0:
        return None
    return LegacyForm(op, text[:at].strip(), text[at + 2 :].strip())


def _quoted(side: str) -> bool:
    return len(side) >= 2 and side[0] == side[-1] and side[0] in "'\""


def side_text(side: str, env: Mapping[str, Any]) -> str:
    """A side as text: between matching quotes (no escapes) the text itself;
    a variable key its value; otherwise the side as written."""
    if _quoted(side):
        return interpolate_string(side[1:-1], env)
    found, value = lookup(env, side)
    if found:
        return render(value)
    return interpolate_string(side, env)


def evaluate_legacy(form: LegacyForm, env: Mapping[str, Any]) -> bool:
    same = side_text(form.left, env) == side_text(form.right, env)
    return same if form.op == "==" else not same


def legacy_paths(form: LegacyForm) -> tuple[str, ...]:
    """The sides that look like variable keys, and the keys of placeholders
    in the sides, in order."""
    out: list[str] = []
    for side in (form.left, form.right):
        if not _quoted(side) and _KEY_LIKE.fullmatch(side):
            out.append(side)
        for part in split(side):
            if isinstance(part, Slot) and part.candidates is not None:
                out.append(part.key)
    return tuple(dict.fromkeys(out))
