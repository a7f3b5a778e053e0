"""A fast recognizer for the plainest expressions, which need no compiler to be judged.

Most conditions in real documents are comparisons of a path with a literal joined by
``&&``/``||`` (``tasks.a.phase == 'Succeeded' && inputs.parameters.n > 3``). Every text
this recognizer accepts is in the grammar of SPEC §5.1, has a parse tree at most 3
deep (``||`` over ``&&`` over one comparison; the chains are flat), contains no
placeholder, no legacy form and no hyphenated name outside a known namespace: the
compiler would report nothing for it. Anything else goes to the injected expression
check (``Context.expression_check``; ``aether.expr.check_expression`` in practice).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

# The deepest parse tree an accepted text can have (see the module docstring).
MAX_TREE_DEPTH = 3

_WS = r"[ \t\r\n]*"
_SEGMENTS = r"(?:\.[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)*"


@lru_cache(maxsize=8)
def _recognizer(namespaces: frozenset[str]) -> re.Pattern[str]:
    # A path must start with a known namespace (so no W-EXPR-HYPHEN), spelled as a whole
    # NAME token: not followed by a name character or "-" (which would extend it).
    names = "|".join(re.escape(n) for n in sorted(namespaces, key=len, reverse=True))
    operand = (
        rf"(?:(?:{names})(?![A-Za-z0-9_-]){_SEGMENTS}"
        r"|(?:true|false|null)(?![A-Za-z0-9_.-])"
        r"|'[^'\\{}]*'|\"[^\"\\{}]*\""
        r"|(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?![A-Za-z0-9_.]))"
    )
    term = rf"{_WS}{operand}(?:{_WS}(?:==|!=|<=|>=|<|>){_WS}{operand})?"
    return re.compile(rf"{term}(?:{_WS}(?:&&|\|\|){term})*{_WS}")


def plainly_valid(source: str, namespaces: Collection[str]) -> bool:
    """True when ``source`` is in the simple form described above."""
    return _recognizer(frozenset(namespaces)).fullmatch(source) is not None
