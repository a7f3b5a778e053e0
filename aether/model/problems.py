"""Validation problems (SPEC §3.1): what is wrong, where, and how bad."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from attrs import frozen

Severity = Literal["error", "warning"]


@frozen
class Problem:
    code: str
    severity: Severity
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_error(self) -> Problem:
        """The same problem with severity error (``--strict``)."""
        return Problem(self.code, "error", self.path, self.message, self.line, self.column)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
        }
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        return out


def error(code: str, path: str, message: str) -> Problem:
    return Problem(code, "error", path, message)


def warning(code: str, path: str, message: str) -> Problem:
    return Problem(code, "warning", path, message)


class ValidationError(Exception):
    """A document was rejected. The text is SPEC §3.1's
    ``validation error: <n> problem(s)`` followed by one line per problem."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        errors = [p for p in self.problems if p.is_error]
        lines = [f"validation error: {len(errors)} problem(s)"]
        lines.extend(f"{p.path}: {p.code}: {p.message}" for p in errors)
        super().__init__("\n".join(lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.is_error for p in problems)
