"""Which tests execute which line: built once by running the suite under coverage with one
context per test, cached in ``.mutate-cache/`` and rebuilt when any source or test file
changes."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coverage import CoverageData

CACHE_DIR = ".mutate-cache"
MAP_FILE = "line-map.json"
PLUGIN_DIR = Path(__file__).resolve().parent
RUNNER = PLUGIN_DIR / "run_in_copy.py"


@dataclass(frozen=True)
class TestRecord:
    __test__ = False  # not a pytest test class

    node_id: str
    seconds: float


@dataclass
class LineMap:
    fingerprint: str
    tests: list[TestRecord]
    # path -> line -> indices into ``tests``; an empty list marks a line run only outside
    # any test (at import time, e.g. module constants and ``def`` lines)
    lines: dict[str, dict[int, list[int]]]
    sources: dict[str, str]  # path -> the text that was measured, to follow edits made since

    def select(self, path: str, first: int, last: int) -> list[TestRecord] | None:
        """Tests that execute any of the lines, fastest first; None when no line ran at all.
        A line that ran only at import time selects every test that runs the module."""
        file_lines = self.lines.get(path, {})
        chosen: set[int] = set()
        ran = False
        for line in range(first, last + 1):
            if line in file_lines:
                ran = True
                chosen.update(file_lines[line])
        if not ran:
            return None
        if not chosen:
            for indices in file_lines.values():
                chosen.update(indices)
        return sorted((self.tests[index] for index in chosen), key=lambda test: (test.seconds, test.node_id))


def fingerprint(snapshot: Path, root: Path) -> str:
    """Hash of every Python file of the package snapshot and of the tests: any edit
    invalidates the map."""
    digest = hashlib.sha256()
    for top in (snapshot / "aether", root / "tests"):
        for path in sorted(top.rglob("*.py")):
            digest.update(path.relative_to(top.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_or_build(
    root: Path,
    snapshot: Path,
    log: Callable[[str], None],
    reuse_stale: bool = False,
    tests: tuple[str, ...] = ("tests",),
) -> LineMap:
    """The map for the package as copied into ``snapshot`` and the tests as they are in ``root``.
    The suite runs against the snapshot, so line numbers match the mutants exactly even
    while the working tree changes. ``reuse_stale`` keeps a map built before later edits,
    moving its lines along with the edited source (tests added since are not in it)."""
    cache = root / CACHE_DIR
    current = fingerprint(snapshot, root) + ":" + " ".join(tests)
    cached = _load(cache / MAP_FILE)
    if cached is not None and cached.fingerprint == current:
        log(f"coverage map: reusing {cache / MAP_FILE}")
        return cached
    if cached is not None and reuse_stale:
        log(f"coverage map: reusing {cache / MAP_FILE} although files changed since it was built")
        return _follow_edits(cached, snapshot)
    log("coverage map: running the suite once under coverage (one context per test)...")
    built = _build(root, snapshot, cache, current, tests)
    (cache / MAP_FILE).write_text(
        json.dumps(
            {
                "fingerprint": built.fingerprint,
                "tests": [[test.node_id, test.seconds] for test in built.tests],
                "lines": {path: {str(k): v for k, v in lines.items()} for path, lines in built.lines.items()},
                "sources": built.sources,
            }
        ),
        encoding="utf-8",
    )
    return built


def _load(path: Path) -> LineMap | None:
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return LineMap(
        fingerprint=raw["fingerprint"],
        tests=[TestRecord(node_id, seconds) for node_id, seconds in raw["tests"]],
        lines={path: {int(k): v for k, v in lines.items()} for path, lines in raw["lines"].items()},
        sources=raw["sources"],
    )


def _follow_edits(stale: LineMap, snapshot: Path) -> LineMap:
    """Carry each measured line to its number in the current source; lines edited since
    the map was built are dropped (their mutants then read as not covered)."""
    moved: dict[str, dict[int, list[int]]] = {}
    for path, by_line in stale.lines.items():
        current_file = snapshot / path
        if not current_file.exists():
            continue
        before = stale.sources.get(path, "").splitlines()
        after = current_file.read_text(encoding="utf-8").splitlines()
        new_number: dict[int, int] = {}
        for block in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_matching_blocks():
            for offset in range(block.size):
                new_number[block.a + offset + 1] = block.b + offset + 1
        moved[path] = {new_number[line]: tests for line, tests in by_line.items() if line in new_number}
    return LineMap(stale.fingerprint, stale.tests, moved, stale.sources)


def _build(root: Path, snapshot: Path, cache: Path, current: str, tests: tuple[str, ...]) -> LineMap:
    cache.mkdir(exist_ok=True)
    data_file = cache / "coverage.sqlite"
    test_log = cache / "tests.json"
    for stale in (data_file, test_log):
        stale.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "HYPOTHESIS_PROFILE": "ci",
            "HYPOTHESIS_STORAGE_DIRECTORY": str(cache / "hypothesis"),
            "MUTATE_TEST_LOG": str(test_log),
            "PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(snapshot)]),
        }
    )
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--data-file={data_file}",
        f"--source={snapshot / 'aether'}",
        str(RUNNER),
        str(snapshot),
        "-p",
        "contexts_plugin",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-q",
        "--continue-on-collection-errors",  # a module that does not import must not empty the map
        *tests,
    ]
    with (cache / "coverage-run.log").open("w", encoding="utf-8") as output:
        subprocess.run(command, cwd=root, env=env, check=False, stdout=output, stderr=subprocess.STDOUT)
    outcomes = json.loads(test_log.read_text(encoding="utf-8")) if test_log.exists() else {"durations": {}}
    if not outcomes["durations"]:
        raise RuntimeError(f"the coverage run recorded no test; see {cache / 'coverage-run.log'}")
    failed = set(outcomes["failed"])
    records = [TestRecord(node_id, seconds) for node_id, seconds in sorted(outcomes["durations"].items())]
    index_of = {test.node_id: position for position, test in enumerate(records) if test.node_id not in failed}
    data = CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, list[int]]] = {}
    for measured in data.measured_files():
        relative = Path(measured).resolve().relative_to(snapshot.resolve()).as_posix()
        by_line = data.contexts_by_lineno(measured)
        lines[relative] = {
            line: sorted(index_of[context] for context in contexts if context in index_of)
            for line, contexts in by_line.items()
        }
    sources = {path: (snapshot / path).read_text(encoding="utf-8") for path in lines}
    return LineMap(fingerprint=current, tests=records, lines=lines, sources=sources)
