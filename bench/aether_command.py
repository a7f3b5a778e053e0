"""The ``aether`` command as a user runs it: the console script installed beside this
interpreter, else the one on PATH, else ``python -m aether``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def aether_command() -> list[str]:
    beside = Path(sys.executable).parent / "aether"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("aether")
    return [found] if found else [sys.executable, "-m", "aether"]


def user_environment() -> dict[str, str]:
    """This environment without ``AETHER_DB``, so the command uses ./aether.db as it would
    for a user who set nothing."""
    return {name: value for name, value in os.environ.items() if name != "AETHER_DB"}
