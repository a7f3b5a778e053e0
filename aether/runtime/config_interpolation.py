"""Interpolation of ``executorConfig`` on the worker (SPEC §4.7), with the rules for the fields
an executor runs as a command.

An executor names those fields in its ``command_fields`` attribute (``shell``: ``command``;
``script``: ``runtime`` and ``source``). Two rules apply to them and to no other field:

- **A secret never enters a command.** A placeholder that reads a ``secretKeyRef`` input is
  refused (code 3): the command line of a process is visible to every user of the machine
  (``ps``, ``/proc/<pid>/cmdline``), and a script's text is written to a file. The task
  reads the secret from ``$AETHER_INPUT_<NAME>``, which the process executors set.
- **``quote: true`` shell-quotes each substituted value** (:func:`shlex.quote`) in the string
  fields, so that the shell reads the value as one word and never as code. That holds only
  where the shell reads a word, so a placeholder inside quotes, a comment or a here-document
  is refused (:mod:`aether.model.shell_words`). The elements of an array are left alone:
  each already is one argument that no shell reads.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from attrs import frozen

from aether.model.json_value import JSON
from aether.model.shell_words import placeholder_positions
from aether.runtime.executors.process import input_env_name

if TYPE_CHECKING:
    from aether.expr.interpolate import Slot

# aether.expr (layer 2) is imported inside the functions, only when a placeholder needs it:
# it loads the expression grammar, which a worker running plain commands never uses.

QUOTE_OPTION = "quote"


class ConfigRefused(Exception):
    """The config cannot be interpolated; the text is the result message (code 3)."""


@frozen
class CommandRules:
    """What the rules need to know about one assignment."""

    fields: frozenset[str] = frozenset()  # the config keys the executor runs as a command
    secret_inputs: frozenset[str] = frozenset()  # names of the inputs bound from a secretKeyRef


def command_rules(plugin: object, secret_inputs: Iterable[str]) -> CommandRules:
    """The rules for an executor plug-in; one without ``command_fields`` has no command fields."""
    fields = getattr(plugin, "command_fields", ())
    return CommandRules(frozenset(fields), frozenset(secret_inputs))


def interpolate_config(config: dict[str, JSON], env: Mapping[str, JSON], rules: CommandRules) -> dict[str, JSON]:
    """String interpolation of every string in the config's values (keys name fields and are
    left alone), with the command-field rules above."""
    quote = config.get(QUOTE_OPTION) is True
    out: dict[str, JSON] = {}
    for key, value in config.items():
        if key in rules.fields:
            out[key] = _interpolate_command(key, value, env, rules.secret_inputs, quote)
        else:
            out[key] = _interpolate(value, env)
    return out


def _interpolate(value: JSON, env: Mapping[str, JSON]) -> JSON:
    if isinstance(value, str):
        return _string(value, env)
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    return value


def _string(text: str, env: Mapping[str, JSON]) -> str:
    if "{{" not in text:
        return text  # interpolation would return it unchanged (SPEC §4.7 step 1)
    from aether.expr import interpolate_string

    try:
        return interpolate_string(text, env)
    except Exception as exc:
        raise ConfigRefused(f"executor config: {str(exc) or type(exc).__name__}") from exc


def _interpolate_command(
    field: str, value: JSON, env: Mapping[str, JSON], secret_inputs: Collection[str], quote: bool
) -> JSON:
    if isinstance(value, str):
        _refuse_secrets(field, value, env, secret_inputs)
        return _quoted(field, value, env) if quote and "{{" in value else _string(value, env)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                _refuse_secrets(field, item, env, secret_inputs)
        return [_string(item, env) if isinstance(item, str) else item for item in value]
    return _interpolate(value, env)


def _refuse_secrets(field: str, text: str, env: Mapping[str, JSON], secret_inputs: Collection[str]) -> None:
    if not secret_inputs or "{{" not in text:
        return
    from aether.expr.interpolate import Slot, split

    for part in split(text):
        if not isinstance(part, Slot):
            continue
        name = _secret_read(env, part, secret_inputs)
        if name is not None:
            raise ConfigRefused(
                f'executor config "{field}": {part.text} would put the secret input "{name}" into the command, '
                f"where other users of the machine can read it; read ${input_env_name(name)} instead"
            )


def _secret_read(env: Mapping[str, JSON], slot: Slot, secret_inputs: Collection[str]) -> str | None:
    """The secret input that ``slot`` reads, if it reads one: the key it resolves through
    (the whole key, or the longest prefix that is a key, SPEC §4.2) is that input's key."""
    keys = [slot.key] if slot.key in env else [key for key, _rest in slot.candidates or ()]
    for key in keys:
        if key in env:
            name = key.removeprefix("inputs.parameters.")
            return name if name != key and name in secret_inputs else None
    return None


def _quoted(field: str, text: str, env: Mapping[str, JSON]) -> str:
    """SPEC §4.7 rule 3 with each resolved placeholder's rendering shell-quoted; an
    unresolved placeholder stays as written, as it does without quoting. A placeholder that
    does not stand where the shell reads a word is refused: quoting cannot protect it there."""
    from aether.expr.interpolate import Slot, resolve_slot, split
    from aether.expr.lookup import MISSING
    from aether.expr.values import render

    positions = iter(placeholder_positions(text))
    out: list[str] = []
    try:
        for part in split(text):
            if not isinstance(part, Slot):
                out.append(part)
                continue
            _written, why = next(positions, (part.text, None))
            value = resolve_slot(env, part)
            if value is MISSING:
                out.append(part.text)
                continue
            if why is not None:
                raise ConfigRefused(
                    f'executor config "{field}": with quote: true, {part.text} stands {why}, where a quoted value '
                    f'is not one word; write it outside quotes (echo "hello, "{part.text})'
                )
            out.append(shlex.quote(render(value)))
    except ConfigRefused:
        raise
    except Exception as exc:
        raise ConfigRefused(f"executor config: {str(exc) or type(exc).__name__}") from exc
    return "".join(out)
