"""W-SHELL-INTERPOLATION (SPEC §3.3.5): a ``{{ }}`` that puts a parameter or an output into the
text a ``shell`` or ``script`` task runs.

The worker substitutes the value's text into the command (SPEC §4.7), so the shell reads the
value as code: a parameter ``x"; rm -rf ~; echo "`` runs ``rm``. Inputs reach the process as
``$AETHER_INPUT_<NAME>`` environment variables, which the shell expands as data; and
``config.quote: true`` shell-quotes what is interpolated. Run metadata (``workflow.name``,
``workflow.namespace``, ``workflow.runId``: names and ids of a restricted alphabet) and the
values of the operator's variable sources (``system.os``) are not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from aether.model.json_value import JSON
from aether.model.namespaces import KNOWN_NAMESPACES
from aether.model.shell_words import placeholder_positions
from aether.model.types import Executor
from aether.model.validate.context import Context

CODE = "W-SHELL-INTERPOLATION"

_INPUT_KEY = re.compile(r"inputs\.parameters\.([^.\[\s]+)$")
_NOT_ENV_CHAR = re.compile(r"[^A-Z0-9]")
_RUN_METADATA = frozenset({"workflow.name", "workflow.namespace", "workflow.runId"})
# Programs whose quoting rules are those shlex.quote writes for; a script run by another
# runtime (python3, node) is not protected by quote: true.
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})


def check_shell_interpolation(ctx: Context, executor: Executor, path: str) -> None:
    config = executor.config
    if executor.type not in ("shell", "script") or not isinstance(config, dict):
        return
    quoted = config.get("quote") is True
    for field, text, protected in _command_texts(executor.type, config):
        for written, why in placeholder_positions(text):
            key = written[2:-2].strip()
            if _is_trusted(key, ctx.namespaces):
                continue
            if not (quoted and protected):
                ctx.warn(CODE, f"{path}.config.{field}", _message(executor.type, field, key, protected))
            elif why is not None:
                message = (
                    f'executor "{executor.type}": with quote: true, {written} in "{field}" stands {why}, where '
                    "a quoted value is not one word and the task is refused; write it outside quotes "
                    f'(echo "hello, "{written})'
                )
                ctx.warn(CODE, f"{path}.config.{field}", message)


def _command_texts(kind: str, config: dict[str, JSON]) -> Iterator[tuple[str, str, bool]]:
    """``(field, text, whether quote: true protects it)`` for each text run as code."""
    if kind == "shell":
        command = config.get("command")
        if isinstance(command, str):
            yield "command", command, True
        elif isinstance(command, list):
            # An array is run without a shell, each element one argument; only a program text
            # handed to an interpreter with -c (sh -c, python3 -c) is read as code. quote does
            # not apply to array elements.
            for i, item in enumerate(command):
                if isinstance(item, str) and i > 0 and command[i - 1] == "-c":
                    yield f"command[{i}]", item, False
        return
    runtime, source = config.get("runtime"), config.get("source")
    if isinstance(runtime, str):
        yield "runtime", runtime, True  # split into words like a shell does: quote: true protects it
    if isinstance(source, str):
        yield "source", source, isinstance(runtime, str) and _is_posix_shell(runtime)


def _is_posix_shell(runtime: str) -> bool:
    words = runtime.split()
    return bool(words) and words[0].rsplit("/", 1)[-1] in POSIX_SHELLS


def _is_trusted(key: str, namespaces: frozenset[str]) -> bool:
    if key in _RUN_METADATA:
        return True
    head = re.split(r"[.\[]", key, maxsplit=1)[0]
    # Variable sources: "system", and the namespaces the caller registered (§4.2).
    return head == "system" or (head in namespaces and head not in KNOWN_NAMESPACES)


def _message(kind: str, field: str, key: str, quote_protects: bool) -> str:
    written = "{{" + key + "}}"
    match = _INPUT_KEY.match(key)
    if match is not None:
        variable = "$AETHER_INPUT_" + _NOT_ENV_CHAR.sub("_", match.group(1).upper())
        safe = f'read "{variable}" instead'
    else:
        safe = 'bind it to an input parameter and read "$AETHER_INPUT_<NAME>" instead'
    alternative = ", or set quote: true" if quote_protects else ""
    return (
        f'executor "{kind}": {written} in "{field}" is substituted into the command, where its value runs '
        f"as code; {safe}{alternative}"
    )
