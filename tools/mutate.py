"""Mutation testing for Aether.

    python tools/mutate.py aether/scheduler aether/reducers aether/expr --seed 20261207 --sample 60

Samples seeded mutants per package (stratified over files), runs for each only the tests
that execute the mutated line, in a copy of the package, and reports the score per package
and every mutant that was not killed. See docs/mutation-testing.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from mutation.coverage_map import load_or_build
from mutation.execute import Outcome, Settings, run_all, snapshot_package
from mutation.mutants import Mutant, mutants_of
from mutation.report import read_equivalents, render, to_json
from mutation.sampling import sample

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = Path(__file__).resolve().parent / "mutation-equivalent.txt"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs="+", help="package directories, e.g. aether/scheduler")
    parser.add_argument("--seed", type=int, default=0, help="same seed and tree, same mutants")
    parser.add_argument("--sample", type=int, default=50, help="mutants per package")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument("--timeout-factor", type=float, default=3.0, help="timeout = factor x baseline time")
    parser.add_argument("--min-timeout", type=float, default=30.0, help="seconds; no mutant run gets less")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--retest", type=Path, help="run only the mutants a previous --json report did not kill")
    parser.add_argument("--extra-tests", nargs="+", default=[], help="tests to run first for every covered mutant")
    parser.add_argument("--map-tests", nargs="+", default=["tests"], help="the tests the coverage map is built from")
    parser.add_argument("--reuse-stale-map", action="store_true", help="keep a coverage map older than the tree")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS, help="mutants judged equivalent")
    return parser.parse_args(argv)


def choose(arguments: argparse.Namespace, snapshot: Path) -> list[Mutant]:
    """The seeded sample, or with ``--retest`` the mutants a previous report did not kill,
    found by file, scope, line text and change among all mutants (so edits since do not lose
    them)."""
    wanted: set[tuple[str, str | None, str, str]] | None = None
    if arguments.retest:
        previous = json.loads(arguments.retest.read_text(encoding="utf-8"))["mutants"]
        standing = [m for m in previous if m["status"] != "killed"]
        # reports written before scopes were recorded match in any scope
        wanted = {(m["path"], m.get("scope"), m["original_line"].strip(), m["description"]) for m in standing}
    chosen: list[Mutant] = []
    for package in arguments.packages:
        package = package.rstrip("/")
        files = sorted((snapshot / package).rglob("*.py"))
        if not files:
            raise SystemExit(f"no Python files under {package}")
        by_file = {
            path.relative_to(snapshot).as_posix(): mutants_of(snapshot, path.relative_to(snapshot).as_posix())
            for path in files
        }
        if wanted is None:
            chosen.extend(sample(package, by_file, arguments.sample, arguments.seed))
            continue
        for mutants in by_file.values():
            for mutant in mutants:
                path, _scope, line, change = mutant.key
                if mutant.key in wanted or (path, None, line, change) in wanted:
                    chosen.append(mutant)
    return chosen


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    packages = [package.rstrip("/") for package in arguments.packages]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aether-mutants-") as scratch:
        snapshot = snapshot_package(ROOT, Path(scratch))
        chosen = choose(arguments, snapshot)
        equivalents = read_equivalents(arguments.equivalents)
        judged = [Outcome(m, "equivalent", 0.0, 0, equivalents[m.key].reason) for m in chosen if m.key in equivalents]
        to_run = [mutant for mutant in chosen if mutant.key not in equivalents]
        line_map = load_or_build(
            ROOT,
            snapshot,
            lambda message: print(message, flush=True),
            reuse_stale=arguments.reuse_stale_map,
            tests=tuple(arguments.map_tests),
        )
        print(f"running {len(to_run)} mutants ({len(judged)} judged equivalent)", flush=True)
        done = 0

        def progress(outcome: Outcome) -> None:
            nonlocal done
            done += 1
            mutant = outcome.mutant
            print(
                f"[{done}/{len(to_run)}] {outcome.status:<11} {outcome.seconds:5.1f}s "
                f"{mutant.path}:{mutant.line} {mutant.description}",
                flush=True,
            )

        settings = Settings(ROOT, arguments.timeout_factor, arguments.min_timeout, tuple(arguments.extra_tests))
        outcomes = run_all(to_run, line_map, snapshot, settings, arguments.jobs, progress) + judged
    seconds = time.monotonic() - started
    print()
    print(render(outcomes, packages, seconds))
    if arguments.json:
        arguments.json.write_text(to_json(outcomes, packages, seconds, arguments.seed) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
