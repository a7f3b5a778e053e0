"""Run pytest with a mutated copy of the ``aether`` package first on ``sys.path``.

Usage: ``python run_in_copy.py COPY_ROOT PYTEST_ARGS...``, run from the repository. The
repository's own ``aether`` is installed editable and is in the working directory, so the
copy goes first on the path before anything imports ``aether``; the run refuses to start
(exit 97) if the package it would test is not the copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WRONG_PACKAGE = 97


def main() -> int:
    copy_root = Path(sys.argv[1]).resolve()
    # the repository stays importable (tests import ``tests.support``), but after the copy
    sys.path[:] = [str(copy_root)] + [entry for entry in sys.path if entry not in ("", os.getcwd())] + [os.getcwd()]
    import aether

    if not Path(aether.__file__).resolve().is_relative_to(copy_root):
        print(f"refusing to run: aether imported from {aether.__file__}, not {copy_root}", file=sys.stderr)
        return WRONG_PACKAGE
    import pytest

    return int(pytest.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
