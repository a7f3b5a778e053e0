"""Secret providers (SPEC §15 ``SecretProvider``): called only by worker runtimes, to turn
a ``secretKeyRef`` input into its value just before execution (ARCHITECTURE rule 8).

The command line (``aether run`` and ``aether serve``) reads secrets from a ``--secrets`` file
(:func:`load_secrets_file`), then from the environment (:class:`EnvSecretProvider`), in that
order (:class:`ChainedSecretProvider`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aether.model.source import format_from_extension, parse_source

ENV_PREFIX = "AETHER_SECRET_"
_NOT_ENV_CHAR = re.compile(r"[^A-Z0-9]")


class SecretNotFound(LookupError):
    """The provider has no such secret or key. Its text goes into the result message
    ``secret "<name>/<key>": <text>``, so it must never contain a secret value."""


@runtime_checkable
class SecretProvider(Protocol):
    def get(self, name: str, key: str) -> str:
        """The value of ``key`` in secret ``name``; raises :class:`SecretNotFound`."""
        ...


def env_var_name(name: str, key: str, prefix: str = ENV_PREFIX) -> str:
    """``db-main``/``password`` → ``AETHER_SECRET_DB_MAIN_PASSWORD``: the secret name and the
    key, each upper-cased with every character outside ``[A-Z0-9]`` replaced by ``_``, joined
    by ``_``. Different references can map to one variable (``db-main``/``password`` and
    ``db``/``main-password``); they then read the same value."""
    return prefix + _NOT_ENV_CHAR.sub("_", name.upper()) + "_" + _NOT_ENV_CHAR.sub("_", key.upper())


class EnvSecretProvider:
    """Secrets from environment variables ``AETHER_SECRET_<NAME>_<KEY>``. The process-based
    executors strip these variables from the environment they pass on."""

    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> None:
        # None: os.environ, read at each get() rather than copied, so a secret rotated in it
        # is seen; and not held, so the provider pickles into a worker process.
        self._environ = environ
        self._prefix = prefix

    def get(self, name: str, key: str) -> str:
        variable = env_var_name(name, key, self._prefix)
        value = (os.environ if self._environ is None else self._environ).get(variable)
        if value is None:
            raise SecretNotFound(f"environment variable {variable} is not set")
        return value


class MappingSecretProvider:
    """Secrets from a mapping ``{name: {key: value}}``: tests and embedded use."""

    def __init__(self, secrets: Mapping[str, Mapping[str, str]]) -> None:
        self._secrets = {name: dict(keys) for name, keys in secrets.items()}

    def get(self, name: str, key: str) -> str:
        keys = self._secrets.get(name)
        if keys is None:
            raise SecretNotFound("no such secret")
        if key not in keys:
            raise SecretNotFound(f"secret has no key {key!r}")
        return keys[key]


class ChainedSecretProvider:
    """The first provider that has the secret answers; the error names what each one lacked."""

    def __init__(self, providers: Sequence[SecretProvider]) -> None:
        self._providers = tuple(providers)

    def get(self, name: str, key: str) -> str:
        missing: list[str] = []
        for provider in self._providers:
            try:
                return provider.get(name, key)
            except SecretNotFound as exc:
                missing.append(str(exc))
        raise SecretNotFound("; ".join(missing) or "no secret provider configured")


class SecretsFileError(Exception):
    """A ``--secrets`` file cannot be used. The text names the file and the problem, never a value."""


def load_secrets_file(path: str | os.PathLike[str]) -> MappingSecretProvider:
    """The secrets of a JSON or YAML file ``{name: {key: value}}`` whose values are strings.
    The format follows the extension (``.json``, ``.yaml``, ``.yml``), else the content."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SecretsFileError(f"cannot read secrets file {where}: {exc.strerror or exc}") from None
    source, problems = parse_source(raw, fmt=format_from_extension(where))
    errors = [p for p in problems if p.severity == "error"]
    if source is None or errors:
        first = errors[0].message if errors else "not an object"
        raise SecretsFileError(f"secrets file {where}: {first}")
    return MappingSecretProvider(_secret_table(source.data, where))


def _secret_table(data: Any, where: str) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for name, keys in data.items():
        if not isinstance(keys, dict):
            raise SecretsFileError(f'secrets file {where}: secret "{name}" must be an object of key: value')
        for key, value in keys.items():
            if not isinstance(value, str):
                # Only the type is named: the value itself may be the secret.
                kind = "null" if value is None else type(value).__name__
                raise SecretsFileError(f'secrets file {where}: "{name}/{key}" must be a string, not {kind}')
        table[name] = dict(keys)
    return table
