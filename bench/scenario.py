"""What a scenario is to the runner: its parameters, the rows one measured round gives,
and the functions every module of ``bench/scenarios`` provides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from attrs import asdict, define, field

from bench.databases import Databases

# What a row's events/s is compared with (see bench/README.md, "The limit"):
# "append": raw appends of the same rows into a plain sqlite3 table, batched as the engine did;
# "read": raw reads and decoding of the same rows; None: no comparison makes sense.
LimitKind = Literal["append", "read"]


@define(frozen=True)
class Spec:
    """One scenario as asked for on the command line, e.g. ``loop 1000 10``."""

    scenario: str
    tasks: int = 0
    concurrency: int = 0
    threads: int = 4
    workers: tuple[int, ...] = (1, 2, 4)
    db: str | None = None  # None: a SQLite file; else a PostgreSQL server URL

    @property
    def label(self) -> str:
        sizes = [str(self.tasks)] if self.tasks else []
        if self.scenario == "loop":
            sizes.append(f"C={self.concurrency}")
        return " ".join([self.scenario, *sizes])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Spec:
        return Spec(**{**data, "workers": tuple(data.get("workers", ()))})


@define(frozen=True)
class Source:
    """Where a measured run's events are: the rows the limit is measured on."""

    db: str
    stream: str


@define(frozen=True)
class Row:
    """One figure of one round: ``seconds`` to handle ``tasks`` tasks and ``events`` events."""

    name: str
    seconds: float
    tasks: int | None = None
    events: int | None = None
    peak_rss_mb: float | None = None
    limit: LimitKind | None = None
    source: Source | None = None
    extra: dict[str, Any] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Row:
        source = data.get("source")
        return Row(**{**data, "source": Source(**source) if source else None})


class ScenarioModule(Protocol):
    """A module of ``bench/scenarios``: ``measure`` runs once per round and part, each time
    in a fresh process. A module that needs something built first (untimed, once per
    invocation) also defines ``prepare(spec, workdir, databases)``, see ``needs_preparing``."""

    def parts(self, spec: Spec) -> list[str]: ...

    def measure(self, spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]: ...


def needs_preparing(module: ScenarioModule) -> bool:
    return hasattr(module, "prepare")


def prepare(module: ScenarioModule, spec: Spec, workdir: Path, databases: Databases) -> None:
    module.prepare(spec, workdir, databases)  # type: ignore[attr-defined]
