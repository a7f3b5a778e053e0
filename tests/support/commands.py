"""How tests start the ``aether`` command as a separate process.

The command is looked up next to the running interpreter, where ``pip install`` put it,
so the suite passes in a virtual environment that is not activated (its scripts are not
on PATH); without the script, ``python -m aether`` is the same command.
"""

from __future__ import annotations

import sys
from pathlib import Path


def aether_command() -> list[str]:
    """The argv prefix that runs ``aether`` with the interpreter running the tests."""
    script = Path(sys.executable).parent / "aether"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "aether"]
