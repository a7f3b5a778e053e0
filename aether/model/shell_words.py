"""Where a ``{{ }}`` placeholder stands in a POSIX shell text, for ``config.quote`` (SPEC §14.3).

:func:`shlex.quote` makes a value one shell word only where the shell reads a word: outside
quotes, comments, here-documents, backticks, ``${...}`` and ``$((...))``. Inside double
quotes a quoted ``'x"; rm -rf ~; "'`` still ends the string; in a comment a newline in the
value starts a command; in a here-document or an arithmetic expansion ``$(...)`` inside the
quotes is expanded. So a placeholder is quotable only in plain word position.

The scan is deliberately conservative: it does not parse nested command substitutions, and
once a ``$(`` or a backtick opens inside double quotes, every later placeholder is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

_WORD_BREAKS = " \t\n;&|()<>"


def placeholder_positions(text: str) -> Iterator[tuple[str, str | None]]:
    """``(placeholder as written, why it cannot be quoted or None)`` for each placeholder of
    ``text``, in order (SPEC §4.7 rule 3: each ``{{`` is closed by the next ``}}``)."""
    single = double = comment = escaped = backtick = tangled = heredoc = False
    braces = arithmetic = 0
    i = 0
    while i < len(text):
        if text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end < 0:
                return
            written = text[i : end + 2]
            yield written, _why(single, double, comment, backtick, tangled, heredoc, braces, arithmetic)
            i = end + 2
            escaped = False
            continue
        c = text[i]
        if comment:
            comment = c != "\n"
        elif escaped:
            escaped = False
        elif single:
            single = c != "'"
        elif c == "\\":
            escaped = True
        elif double:
            if c == '"':
                double = False
            elif c == "`" or text.startswith("$(", i):
                tangled = True  # nested quoting this scan does not follow
        elif c == "'":
            single = True
        elif c == '"':
            double = True
        elif c == "`":
            backtick = not backtick
        elif c == "#" and (i == 0 or text[i - 1] in _WORD_BREAKS):
            comment = True
        elif text.startswith("<<", i) and not text.startswith("<<<", i):
            heredoc = True  # its body follows; everything after it is treated as inside
            i += 1
        elif text.startswith("$((", i):
            arithmetic += 1
            i += 2
        elif text.startswith("))", i) and arithmetic:
            arithmetic -= 1
            i += 1
        elif text.startswith("${", i):
            braces += 1
            i += 1
        elif c == "}" and braces:
            braces -= 1
        i += 1


def _why(
    single: bool,
    double: bool,
    comment: bool,
    backtick: bool,
    tangled: bool,
    heredoc: bool,
    braces: int,
    arithmetic: int,
) -> str | None:
    if single or double or tangled:
        return "inside quotes"
    if comment:
        return "inside a comment"
    if heredoc:
        return "after a here-document operator (<<)"
    if backtick:
        return "inside backticks"
    if braces or arithmetic:
        return "inside ${...} or $((...))"
    return None
