"""What the UI tests share: a workflow, ``aether ui`` as a process, and reading what a page draws."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
from playwright.sync_api import Page

from support.cli import aether
from support.commands import aether_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

WORKFLOW = """\
apiVersion: aether/v1
kind: Workflow
metadata: {name: shapes}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - {name: a, executor: {type: echo}}
          - {name: b, dependencies: [a], executor: {type: shell, config: {command: "echo hello from b"}}}
          - {name: c, dependencies: [a], template: sub}
          - {name: d, dependencies: [b, c], template: each}
    - dag:
        name: sub
        tasks:
          - {name: x, executor: {type: echo}}
          - {name: y, dependencies: [x], executor: {type: echo}}
    - loop:
        name: each
        body: leaf
        items: [1, 2, 3]
    - task:
        name: leaf
        executor: {type: echo}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class UiServer:
    """``aether ui`` as a process, on a free port of this machine."""

    def __init__(self, db: Path | str, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*aether_command(), "ui", "--db", str(db), "--port", str(self.port), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    output = self.process.stdout.read().decode() if self.process.stdout else ""
                    raise RuntimeError(f"aether ui did not start: {output}") from None
                time.sleep(0.1)

    def request(self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        data = b"{}" if method == "POST" else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def run_workflow(tmp_path: Path, text: str = WORKFLOW) -> tuple[Path, str]:
    """Runs the document to its end in ``tmp_path/aether.db``; (the database, the run id)."""
    db = tmp_path / "aether.db"
    document = tmp_path / "workflow.yaml"
    document.write_text(text)
    result = aether(db, "run", str(document))
    assert result.exit_code == 0, result.output
    listed = orjson.loads(aether(db, "list", "--json").stdout)
    return db, str(listed[-1]["runId"])


def replay_phases(db: Path, run_id: str, seq: int) -> dict[str, str]:
    """Node id -> phase after event ``seq``, as ``aether replay RUN --at SEQ --json`` prints it."""
    result = aether(db, "replay", run_id, "--at", str(seq), "--json")
    assert result.exit_code == 0, result.output
    return {task["id"]: task["phase"] for task in orjson.loads(result.stdout)["tasks"]}


def last_seq(db: Path, run_id: str) -> int:
    result = aether(db, "history", run_id, "--json")
    assert result.exit_code == 0, result.output
    return max(orjson.loads(line)["seq"] for line in result.stdout.splitlines() if line.strip())


def drawn_phases(page: Page) -> dict[str, str]:
    """Node id -> data-phase of every node the graph draws."""
    pairs = page.eval_on_selector_all(
        "#graph [data-node-id]", "nodes => nodes.map(n => [n.dataset.nodeId, n.dataset.phase])"
    )
    return dict(pairs)


def screenshot_dir() -> Path | None:
    """Where to save the README's screenshots: set AETHER_UI_SCREENSHOTS to a directory."""
    found = os.environ.get("AETHER_UI_SCREENSHOTS")
    return Path(found) if found else None
