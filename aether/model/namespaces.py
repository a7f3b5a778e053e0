"""The variable namespaces of SPEC §5.3, for W-EXPR-HYPHEN: an identifier with "-" whose
first segment is one of these is a name, otherwise probably a subtraction. Each
registered variable-source namespace is added by the caller; ``system`` is built in.

Kept in the model layer so that both the validator and the expression layer use one list.
"""

from __future__ import annotations

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
