"""Run the selected tests against one mutant at a time, each job in its own copy of the
package, never touching the working tree."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from .coverage_map import RUNNER, LineMap
from .mutants import Mutant, apply
from .run_in_copy import WRONG_PACKAGE

STARTUP_SECONDS = 6.0  # interpreter, imports and collection before the first test runs
TESTS_FAILED = 1
INTERRUPTED = 2  # e.g. the mutated module does not import: the suite cannot pass


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | hung | not covered | equivalent | error
    seconds: float
    tests_selected: int
    detail: str = ""


@dataclass(frozen=True)
class Settings:
    root: Path
    timeout_factor: float
    min_timeout: float
    extra_tests: tuple[str, ...] = ()  # run first for every covered mutant (tests newer than the map)


def snapshot_package(root: Path, into: Path) -> Path:
    """Copy ``aether/`` as it is now; mutants are generated from and applied to this copy.
    The rest of the repository is linked beside it, for tests that find files (docs,
    examples) relative to the imported package."""
    target = into / "snapshot"
    shutil.copytree(root / "aether", target / "aether", ignore=shutil.ignore_patterns("__pycache__"))
    for entry in root.iterdir():
        if entry.name != "aether" and not entry.name.startswith(".") and not entry.name.endswith(".egg-info"):
            (target / entry.name).symlink_to(entry)
    return target


def run_all(
    mutants: Iterable[Mutant],
    line_map: LineMap,
    snapshot: Path,
    settings: Settings,
    jobs: int,
    progress: Callable[[Outcome], None],
) -> list[Outcome]:
    """Run every mutant; each of ``jobs`` workers owns one copy of the package."""
    workdirs: Queue[Path] = Queue()
    for job in range(jobs):
        workdir = snapshot.parent / f"job{job}"
        shutil.copytree(snapshot, workdir, symlinks=True)
        workdirs.put(workdir)

    def run_one(mutant: Mutant) -> Outcome:
        workdir = workdirs.get()
        try:
            outcome = _run_mutant(mutant, line_map, snapshot, workdir, settings)
        finally:
            workdirs.put(workdir)
        progress(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_one, mutants))


def _run_mutant(mutant: Mutant, line_map: LineMap, snapshot: Path, workdir: Path, settings: Settings) -> Outcome:
    selected = line_map.select(mutant.path, mutant.first_line, mutant.last_line) or []
    if not selected and not settings.extra_tests:
        return Outcome(mutant, "not covered", 0.0, 0, "no test executes this line")
    original = (snapshot / mutant.path).read_text(encoding="utf-8")
    target = workdir / mutant.path
    target.write_text(apply(original, mutant), encoding="utf-8")
    argument_file = workdir / "tests.args"
    node_ids = [*settings.extra_tests, *(test.node_id for test in selected)]
    argument_file.write_text("\n".join(node_ids) + "\n", encoding="utf-8")
    timeout = max(settings.min_timeout, settings.timeout_factor * (STARTUP_SECONDS + sum(t.seconds for t in selected)))
    started = time.monotonic()
    try:
        status, detail = _pytest(workdir, argument_file, settings.root, timeout)
    finally:
        target.write_text(original, encoding="utf-8")
    if status == "error":
        # pytest stopped before running tests (e.g. a conftest could not import). Only if the
        # same selection runs on the unmutated copy was it the mutant that broke the suite.
        baseline, _ = _pytest(workdir, argument_file, settings.root, timeout)
        if baseline == "survived":
            status, detail = "killed", f"the suite cannot start: {detail}"
    return Outcome(mutant, status, time.monotonic() - started, len(selected), detail)


def _pytest(workdir: Path, argument_file: Path, root: Path, timeout: float) -> tuple[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HYPOTHESIS_PROFILE": "ci",
            "HYPOTHESIS_STORAGE_DIRECTORY": str(workdir / "hypothesis"),
            "PYTHONPATH": str(workdir),  # subprocesses started by tests import the copy too
            "PYTHONDONTWRITEBYTECODE": "1",  # a cached .pyc of a previous mutant must never be reused
        }
    )
    command = [
        sys.executable,
        str(RUNNER),
        str(workdir),
        "-x",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-p",
        "no:warnings",
        f"--rootdir={root}",
        f"@{argument_file}",
    ]
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "hung", f"no result within {timeout:.0f}s"
        output.seek(0)
        tail = output.read().decode(errors="replace").strip().splitlines()[-1:]
    last_line = tail[0] if tail else ""
    if code in (TESTS_FAILED, INTERRUPTED):
        return "killed", last_line
    if code == 0:
        return "survived", last_line
    if code == WRONG_PACKAGE:
        raise RuntimeError("the mutated copy was not the package under test")
    return "error", f"pytest exit {code}: {last_line}"
