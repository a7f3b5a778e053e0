"""The variable namespaces of SPEC §5.3, for W-EXPR-HYPHEN: an identifier with "-" whose
first segment is one of these is a name, otherwise probably a subtraction. ``system`` is
built in; the namespaces of other registered variable sources come from the caller
(``variable_namespaces`` of ``load_document``, which the engine fills from its sources).

Kept in the model layer so that both the validator and the expression layer use one list.
"""

from __future__ import annotations

from collections.abc import Collection

KNOWN_NAMESPACES: frozenset[str] = frozenset(
    {
        "tasks",
        "inputs",
        "workflow",
        "loop_iter",
        "iterator",
        "loop",
        "outputs",
        "phase",
        "code",
        "msg",
        "retryCount",
        "system",
    }
)


def known_namespaces(registered: Collection[str] = ()) -> frozenset[str]:
    """The built-in namespaces and those of registered variable sources."""
    return KNOWN_NAMESPACES | frozenset(registered) if registered else KNOWN_NAMESPACES
