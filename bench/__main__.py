"""``python -m bench SCENARIO [ARGS] [--rounds 3] [--json] [--db sqlite|postgresql://...]``

Run from the repository's root. See bench/README.md for what each scenario measures and how
to read the table."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.results import summarize, table
from bench.runner import run_scenarios
from bench.scenario import Spec

# `python -m bench all`: a few minutes per round on a 2-core machine.
DEFAULT_SET = (
    Spec("limit", tasks=10_000),
    Spec("fanout", tasks=1_000),
    Spec("fanout", tasks=10_000),
    Spec("chain", tasks=1_000),
    Spec("loop", tasks=1_000, concurrency=10),
    Spec("replay", tasks=10_000),
    Spec("cli"),
    Spec("cli-run", tasks=1_000),
    Spec("distributed", tasks=500),
    Spec("ui", tasks=1_000),
    Spec("validate", tasks=5_000),
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.keep and not args.workdir:
        raise SystemExit("--keep needs --workdir: the temporary directory goes at the end")
    db = _database(args.db)
    specs = _specs(args, db)
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="aether-bench-") as scratch:
        workdir = Path(args.workdir) if args.workdir else Path(scratch)
        outcome = run_scenarios(specs, args.rounds, workdir, _silent if args.quiet else _progress, keep=args.keep)
    load_average = os.getloadavg()
    summaries = summarize(outcome.measured, load_average)
    if args.json:
        for summary in summaries:
            print(json.dumps(summary), flush=True)
    else:
        print(
            f"load average {_load(load_at_start)} at the start, {_load(load_average)} at the end; {args.rounds} rounds"
        )
        print()
        print(table(summaries))
    for label, why in outcome.failures.items():
        print(f"{label}: failed: {why}", file=sys.stderr)
    return 1 if outcome.failures else 0


def _specs(args: argparse.Namespace, db: str | None) -> list[Spec]:
    common = {"threads": args.threads, "db": db}
    if args.scenario == "all":
        return [Spec(**{**spec.to_json(), **common}) for spec in DEFAULT_SET]
    fields = {name: getattr(args, name) for name in ("tasks", "concurrency", "workers") if hasattr(args, name)}
    if "workers" in fields:
        fields["workers"] = tuple(fields["workers"])
    return [Spec(args.scenario, **fields, **common)]


def _database(text: str) -> str | None:
    if text == "sqlite":
        return None
    if text.startswith(("postgresql://", "postgres://")):
        import psycopg

        try:  # here, rather than as a failure of every scenario and of the clean-up
            psycopg.connect(text, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise SystemExit(f"--db: cannot connect to the server: {exc}") from exc
        return text
    raise SystemExit(f"--db: sqlite or a postgresql:// URL, not {text!r}")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rounds", type=int, default=3, help="measured rounds, each in a fresh process (default 3)")
    common.add_argument("--json", action="store_true", help="one JSON object per row instead of the table")
    common.add_argument(
        "--db", default="sqlite", help="sqlite (a file per round, the default) or a postgresql:// server URL"
    )
    common.add_argument("--threads", type=int, default=4, help="in-process worker threads of the engine (default 4)")
    common.add_argument("--workdir", help="make the databases here instead of in a temporary directory")
    common.add_argument("--keep", action="store_true", help="keep every database made (needs --workdir)")
    common.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Aether's benchmarks, each compared with the log's limit on this machine (bench/README.md).",
    )
    scenarios = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")

    def scenario(name: str, text: str) -> argparse.ArgumentParser:
        return scenarios.add_parser(name, parents=[common], help=text, description=text)

    for name, text in (
        ("fanout", "N independent no-op tasks through the engine"),
        ("chain", "N no-op tasks, each depending on the one before"),
        ("replay", "fold, verify and time travel on a finished N-task run"),
        ("cli-run", "`aether run` of an N-task echo fan-out, the whole process"),
        ("ui", "open the run page and the report of an N-task run in Chromium"),
        ("validate", "load and validate a document of N richly configured tasks"),
    ):
        scenario(name, text).add_argument("tasks", type=_positive, metavar="N")
    loop = scenario("loop", "a loop over N items, C iterations at once (0: all)")
    loop.add_argument("tasks", type=_positive, metavar="N")
    loop.add_argument("concurrency", type=int, metavar="C")
    cli = scenario("cli", "start-up of aether --version, --help, get, list")
    cli.add_argument("tasks", type=_positive, metavar="N", nargs="?", default=0, help="tasks of the run shown (10)")
    limit = scenario("limit", "raw sqlite3 appends and reads of an N-task run's rows")
    limit.add_argument("tasks", type=_positive, metavar="N", nargs="?", default=1_000)
    distributed = scenario("distributed", "serve --workers 0 and K worker processes")
    distributed.add_argument("tasks", type=_positive, metavar="N")
    distributed.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], metavar="K", help="worker processes, a row each (1 2 4)"
    )
    distributed.add_argument("--concurrency", type=int, default=4, help="tasks at once per worker process")
    scenario("all", "the default set: " + ", ".join(spec.label for spec in DEFAULT_SET))
    return parser


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"a number of tasks is at least 1, not {number}")
    return number


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in averages)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _silent(text: str) -> None:
    """No progress lines."""


if __name__ == "__main__":
    raise SystemExit(main())
