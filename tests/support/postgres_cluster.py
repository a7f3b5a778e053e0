"""A throw-away PostgreSQL cluster for the tests: a real server, started from the
machine's own PostgreSQL binaries in a temporary directory, on a free loopback port.

``.ci/run`` starts one before the suite and stops it afterwards (also on failure)::

    python -m tests.support.postgres_cluster start DIR   # prints the server's URL
    python -m tests.support.postgres_cluster stop DIR

and exports the URL as ``AETHER_TEST_POSTGRES_URL``. A developer who runs pytest
without it gets a cluster started by the test session itself, when a test first needs
one. Without the binaries the PostgreSQL tests fail with :data:`MISSING_BINARIES`: they
are never skipped.

The server refuses to run as root, so as root the cluster belongs to the ``postgres``
user (which Debian's package creates) and every server command runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

URL_VARIABLE = "AETHER_TEST_POSTGRES_URL"
SUPERUSER = "aether"
MISSING_BINARIES = (
    "the PostgreSQL tests need a PostgreSQL server (initdb, pg_ctl): install it "
    "(Debian: `apt-get install postgresql`), or point AETHER_TEST_POSTGRES_URL at a server "
    "where the URL's user may create databases; `.ci/run` installs and starts one itself"
)
_SERVER_USER = "postgres"


class ClusterUnavailable(RuntimeError):
    """No cluster can be started here; the message says what is missing."""


def server_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest installed PostgreSQL."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if not candidates:
        raise ClusterUnavailable(MISSING_BINARIES)
    return Path(candidates[-1]).parent


def _major_version(initdb: str) -> int:
    version = Path(initdb).parent.parent.name
    return int(version) if version.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam(_SERVER_USER)
    except KeyError as exc:
        raise ClusterUnavailable(f"running as root, and there is no {_SERVER_USER!r} user to run the server") from exc
    return ["runuser", "-u", _SERVER_USER, "--", *argv]


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def start(directory: Path, *, durable: bool = False) -> str:
    """Create and start a cluster in ``directory`` (which must not hold one yet); return
    the URL of its ``postgres`` database, as the superuser ``aether``. ``durable`` keeps
    PostgreSQL's default durability (every commit flushed), as benchmarks need; the tests'
    cluster turns it off, since it is thrown away."""
    bin_dir = server_bin_dir()
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    if os.geteuid() == 0:
        info = pwd.getpwnam(_SERVER_USER)
        os.chown(directory, info.pw_uid, info.pw_gid)
        directory.chmod(0o700)
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"])
    port = _free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=300"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-o", options, "-w", "start"])
    (directory / "port").write_text(str(port))
    return url_of(port)


def url_of(port: int, database: str = "postgres") -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"


def stop(directory: Path) -> None:
    """Stop the cluster of ``directory`` (if it runs) and remove the directory."""
    data = directory / "data"
    if (data / "postmaster.pid").exists():
        try:
            _run([str(server_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        except ClusterUnavailable as exc:
            print(f"stopping the test cluster: {exc}", file=sys.stderr)
    shutil.rmtree(directory, ignore_errors=True)


def wait_until_accepting(url: str, timeout: float = 30.0) -> None:
    import psycopg

    give_up = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.2)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.support.postgres_cluster start|stop DIR", file=sys.stderr)
        return 2
    command, directory = argv[0], Path(argv[1]).resolve()
    if command == "stop":
        stop(directory)
        return 0
    try:
        url = start(directory)
        wait_until_accepting(url)
    except ClusterUnavailable as exc:
        print(f"cannot start PostgreSQL: {exc}", file=sys.stderr)
        stop(directory)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
