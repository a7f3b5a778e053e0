"""Expression errors (SPEC §5.9): a stable code, a detail message, and for
compile errors the position in the source with a caret excerpt."""

from __future__ import annotations

SYNTAX = "E-EXPR-SYNTAX"
FUNCTION = "E-EXPR-FUNCTION"
TYPE = "E-EXPR-TYPE"
UNDEFINED = "E-EXPR-UNDEFINED"
KEY = "E-EXPR-KEY"
INDEX = "E-EXPR-INDEX"
DIV_ZERO = "E-EXPR-DIV-ZERO"
OVERFLOW = "E-EXPR-OVERFLOW"
REGEX = "E-EXPR-REGEX"
NOT_BOOLEAN = "E-EXPR-NOT-BOOLEAN"
LIMIT = "E-EXPR-LIMIT"
TOO_LONG = "E-EXPR-TOO-LONG"
TOO_DEEP = "E-EXPR-TOO-DEEP"

# The lookup failures that `default(x, y)` absorbs (SPEC §5.6).
LOOKUP_CODES = frozenset({UNDEFINED, KEY, INDEX})


class ExpressionError(Exception):
    """A compile or evaluation error. ``str(err)`` is the text of SPEC §5.9:
    ``<code> at <line>:<col>: <message>`` plus the excerpt when the position is
    known, else ``<code>: <message>``."""

    def __init__(
        self,
        code: str,
        message: str,
        line: int | None = None,
        column: int | None = None,
        excerpt: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt
        super().__init__(self._text())

    def _text(self) -> str:
        if self.line is None or self.column is None:
            return f"{self.code}: {self.message}"
        head = f"{self.code} at {self.line}:{self.column}: {self.message}"
        return f"{head}\n{self.excerpt}" if self.excerpt else head

    @property
    def headline(self) -> str:
        """The first line of the text, without the excerpt."""
        return self._text().split("\n", 1)[0]

    def __str__(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        return f"ExpressionError({self.code!r}, {self.message!r}, {self.line!r}, {self.column!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep every field through pickling (errors may cross process boundaries).
        return (ExpressionError, (self.code, self.message, self.line, self.column, self.excerpt))

    def copy(self) -> ExpressionError:
        """A fresh instance, so a cached error can be raised again without
        accumulating tracebacks."""
        return ExpressionError(self.code, self.message, self.line, self.column, self.excerpt)


def position_error(code: str, message: str, source: str, line: int, column: int) -> ExpressionError:
    """An error at ``line``/``column`` (1-based, code points) of ``source``."""
    return ExpressionError(code, message, line, column, excerpt(source, line, column))


def offset_position(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of the 0-based code-point ``offset``."""
    line = source.count("\n", 0, offset) + 1
    start = source.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def excerpt(source: str, line: int, column: int) -> str:
    """The source line and a caret under ``column``, each indented two spaces.
    Tabs before the caret are kept so the caret lines up in a terminal."""
    lines = source.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    text = text.rstrip("\r")
    pad = "".join("\t" if c == "\t" else " " for c in text[: max(column - 1, 0)])
    pad += " " * max(column - 1 - len(text), 0)
    return f"  {text}\n  {pad}^"
