"""Secret providers (SPEC §15 ``SecretProvider``): called only by worker runtimes, to turn
a ``secretKeyRef`` input into its value just before execution (ARCHITECTURE rule 8)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

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
    """``db-main``/``password`` → ``AETHER_SECRET_DB_MAIN_PASSWORD``."""
    return prefix + _NOT_ENV_CHAR.sub("_", name.upper()) + "_" + _NOT_ENV_CHAR.sub("_", key.upper())


class EnvSecretProvider:
    """Secrets from environment variables ``AETHER_SECRET_<NAME>_<KEY>``. The process-based
    executors strip these variables from the environment they pass on."""

    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> None:
        # Read at each get(), not copied, so a secret rotated in os.environ is seen.
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._prefix = prefix

    def get(self, name: str, key: str) -> str:
        variable = env_var_name(name, key, self._prefix)
        value = self._environ.get(variable)
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
