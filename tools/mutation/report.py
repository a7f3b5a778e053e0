"""The report: one table row per package, then every mutant that was not killed. Also reads
the list of mutants judged equivalent."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .execute import Outcome

STATUSES = ("killed", "survived", "hung", "not covered", "error", "equivalent")


@dataclass(frozen=True)
class Equivalent:
    path: str
    scope: str
    line: str
    mutation: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.path, self.scope, self.line, self.mutation)


def read_equivalents(path: Path) -> dict[tuple[str, str, str, str], Equivalent]:
    """Blocks of ``file:``, ``in:`` (the enclosing function or class, empty at module level),
    ``line:`` (stripped source text), ``mutation:`` and ``reason:`` lines separated by blank
    lines; ``#`` starts a comment line."""
    if not path.exists():
        return {}
    found: dict[tuple[str, str, str, str], Equivalent] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        for raw in block.splitlines():
            if raw.startswith("#") or ":" not in raw:
                continue
            name, _, value = raw.partition(":")
            fields[name.strip()] = value.strip()
        if {"file", "line", "mutation", "reason"} <= fields.keys():
            entry = Equivalent(
                fields["file"], fields.get("in", ""), fields["line"], fields["mutation"], fields["reason"]
            )
            found[entry.key] = entry
    return found


def package_of(path: str, packages: Sequence[str]) -> str:
    return next(package for package in packages if path.startswith(package.rstrip("/") + "/"))


def score(counts: Counter[str]) -> float:
    """Killed over everything judged killable: equivalent mutants are left out, a hang, an
    uncovered line and a tool error all count as survivors."""
    killable = sum(counts.values()) - counts["equivalent"]
    return 100.0 * counts["killed"] / killable if killable else 100.0


def render(outcomes: Sequence[Outcome], packages: Sequence[str], seconds: float) -> str:
    lines = [
        f"{'package':<20} {'tried':>5} {'killed':>6} {'survived':>8} {'hung':>4} {'uncovered':>9} "
        f"{'error':>5} {'equiv':>5} {'score':>7}"
    ]
    for package in packages:
        counts = Counter(o.status for o in outcomes if package_of(o.mutant.path, packages) == package)
        lines.append(
            f"{package:<20} {sum(counts.values()):>5} {counts['killed']:>6} {counts['survived']:>8} "
            f"{counts['hung']:>4} {counts['not covered']:>9} {counts['error']:>5} {counts['equivalent']:>5} "
            f"{score(counts):>6.1f}%"
        )
    lines.append(f"runtime: {seconds / 60:.1f} min")
    standing = [o for o in outcomes if o.status != "killed"]
    if standing:
        lines.append("")
        lines.append("not killed:")
    for outcome in sorted(standing, key=lambda o: (o.status == "equivalent", o.mutant.path, o.mutant.line)):
        mutant = outcome.mutant
        where = f" (in {mutant.scope})" if mutant.scope else ""
        lines.append(f"  [{outcome.status}] {mutant.path}:{mutant.line}{where}  {mutant.description}")
        lines.append(f"      - {mutant.original_line.strip()}")
        lines.append(f"      + {mutant.mutated_line.strip()}")
        if outcome.detail:
            lines.append(f"      ({outcome.detail})")
    return "\n".join(lines)


def to_json(outcomes: Sequence[Outcome], packages: Sequence[str], seconds: float, seed: int) -> str:
    summary = {}
    for package in packages:
        counts = Counter(o.status for o in outcomes if package_of(o.mutant.path, packages) == package)
        summary[package] = {status: counts[status] for status in STATUSES} | {
            "tried": sum(counts.values()),
            "score": round(score(counts), 1),
        }
    return json.dumps(
        {
            "seed": seed,
            "runtime_seconds": round(seconds, 1),
            "packages": summary,
            "mutants": [
                asdict(o.mutant)
                | {"status": o.status, "seconds": round(o.seconds, 1), "tests": o.tests_selected, "detail": o.detail}
                for o in outcomes
            ],
        },
        indent=2,
    )
