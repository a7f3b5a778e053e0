"""``python -m aether``: the ``aether`` command, for an environment whose scripts are not on PATH."""

from aether.cli.main import run

if __name__ == "__main__":
    run()
