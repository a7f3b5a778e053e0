"""``--secrets FILE`` of ``aether run`` and ``aether serve``: where the command line finds the
values of ``secretKeyRef`` inputs (SPEC §15 ``SecretProvider``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aether.cli.common import fail

if TYPE_CHECKING:
    from aether.runtime.secrets import SecretProvider

SecretsOption = typer.Option(
    None,
    "--secrets",
    help=(
        "JSON or YAML file {name: {key: value}} of secrets for secretKeyRef inputs; "
        "secrets not in it are read from AETHER_SECRET_<NAME>_<KEY> variables."
    ),
)


def command_line_secrets(path: str | None) -> SecretProvider:
    """The ``--secrets`` file first, if given, then the environment."""
    from aether.runtime.secrets import ChainedSecretProvider, EnvSecretProvider, SecretsFileError, load_secrets_file

    environment = EnvSecretProvider()
    if path is None:
        return environment
    try:
        from_file = load_secrets_file(path)
    except SecretsFileError as exc:
        fail(str(exc))
    return ChainedSecretProvider([from_file, environment])
