"""From the rows of every round to the figures printed: medians with min and max, as a
plain-text table per scenario or one JSON object per row."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.measure import Spread
from bench.runner import Measured
from bench.scenario import Spec

# Per-round figures whose min and max are reported beside the median.
SPREAD_FIGURES = ("seconds", "tasks_per_s", "events_per_s", "us_per_task", "peak_rss_mb", "ratio_to_limit")


def summarize(measured: Sequence[Measured], load_average: tuple[float, float, float]) -> list[dict[str, Any]]:
    """One summary per scenario and row name, in the order they were first measured."""
    groups: dict[tuple[str, str], list[Measured]] = {}
    for item in measured:
        groups.setdefault((item.spec.label, item.row.name), []).append(item)
    return [_summary(items, load_average) for items in groups.values()]


def _summary(items: list[Measured], load_average: tuple[float, float, float]) -> dict[str, Any]:
    spec = items[0].spec
    rounds = [_round_figures(item) for item in items]
    tasks = _median_int([item.row.tasks for item in items])
    events = _median_int([item.row.events for item in items])
    seconds = statistics.median(item.row.seconds for item in items)
    spreads = {name: _spread([figures[name] for figures in rounds]) for name in SPREAD_FIGURES}
    summary: dict[str, Any] = {
        "scenario": spec.scenario,
        "label": spec.label,
        "row": items[0].row.name,
        "db": _db_kind(spec),
        "tasks": tasks,
        "events": events,
        "seconds": seconds,
        # From the median seconds, so that tasks_per_s * seconds == tasks exactly.
        "tasks_per_s": tasks / seconds if tasks and seconds else None,
        "events_per_s": events / seconds if events and seconds else None,
        "us_per_task": seconds / tasks * 1e6 if tasks else None,
        "peak_rss_mb": spreads["peak_rss_mb"].median if spreads["peak_rss_mb"] else None,
        "limit_events_per_s": _median([item.limit_events_per_s for item in items]),
        "ratio_to_limit": spreads["ratio_to_limit"].median if spreads["ratio_to_limit"] else None,
        "samples": len(items),
        "min": {name: spread.low if spread else None for name, spread in spreads.items()},
        "max": {name: spread.high if spread else None for name, spread in spreads.items()},
        "load_average": [round(load, 2) for load in load_average],
        # The measured runs, one per round (to inspect them, keep them: --workdir and --keep).
        "runs": [{"db": item.row.source.db, "stream": item.row.source.stream} for item in items if item.row.source],
    }
    for item in items:
        summary.update({key: value for key, value in item.row.extra.items() if key not in summary})
    return summary


def _round_figures(item: Measured) -> dict[str, float | None]:
    row = item.row
    events_per_s = row.events / row.seconds if row.events and row.seconds else None
    return {
        "seconds": row.seconds,
        "tasks_per_s": row.tasks / row.seconds if row.tasks and row.seconds else None,
        "events_per_s": events_per_s,
        "us_per_task": row.seconds / row.tasks * 1e6 if row.tasks else None,
        "peak_rss_mb": row.peak_rss_mb,
        "ratio_to_limit": events_per_s / item.limit_events_per_s if events_per_s and item.limit_events_per_s else None,
    }


def _spread(values: list[float | None]) -> Spread | None:
    known = [value for value in values if value is not None]
    return Spread.of(known) if known else None


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _median_int(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return statistics.median_low(known) if known else None


def _db_kind(spec: Spec) -> str:
    if spec.scenario in {"cli", "cli-run", "limit", "ui"} or spec.db is None:
        return "sqlite"
    return "postgresql"


# --- the table --------------------------------------------------------------------------------

COLUMNS = (
    ("row", "<"),
    ("tasks", ">"),
    ("events", ">"),
    ("seconds  median [min-max]", ">"),
    ("us/task", ">"),
    ("tasks/s", ">"),
    ("events/s", ">"),
    ("peak MB", ">"),
    ("limit ev/s", ">"),
    ("x limit", ">"),
)


def table(summaries: Sequence[dict[str, Any]]) -> str:
    """A table per scenario: every figure a median over the rounds; seconds with its range."""
    blocks: list[str] = []
    for label in dict.fromkeys(summary["label"] for summary in summaries):
        rows = [summary for summary in summaries if summary["label"] == label]
        cells = [_cell_texts(summary) for summary in rows]
        widths = [max(len(name), *(len(row[i]) for row in cells)) for i, (name, _) in enumerate(COLUMNS)]
        first = rows[0]
        lines = [f"{label}  ({first['samples']} samples, {first['db']}{_settings(first)})"]
        lines += [_line([name for name, _ in COLUMNS], widths), *(_line(row, widths) for row in cells)]
        if first["scenario"] == "chain" and first["us_per_task"]:
            lines.append(f"  => {first['us_per_task']:,.0f} us per task, one after another")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _line(texts: list[str], widths: list[int]) -> str:
    aligned = (
        text.ljust(width) if how == "<" else text.rjust(width)
        for text, (_, how), width in zip(texts, COLUMNS, widths, strict=True)
    )
    return "  " + "  ".join(aligned)


def _settings(summary: dict[str, Any]) -> str:
    shown = [f"{key} {summary[key]}" for key in ("threads", "concurrency") if key in summary]
    if "document_mb" in summary:
        shown.append(f"document {summary['document_mb']:.1f} MiB, json.loads {summary['json_loads_seconds']:.3f} s")
    if "report_bytes" in summary:
        shown.append(f"report {summary['report_bytes'] / 2**20:,.1f} MiB")
    return "".join(f", {text}" for text in shown)


def _cell_texts(summary: dict[str, Any]) -> list[str]:
    low, high = summary["min"]["seconds"], summary["max"]["seconds"]
    return [
        str(summary["row"]),
        _number(summary["tasks"], ",.0f"),
        _number(summary["events"], ",.0f"),
        f"{summary['seconds']:.3f} [{low:.3f}-{high:.3f}]",
        _number(summary["us_per_task"], ",.0f"),
        _number(summary["tasks_per_s"], ",.0f"),
        _number(summary["events_per_s"], ",.0f"),
        _number(summary["peak_rss_mb"], ",.0f"),
        _number(summary["limit_events_per_s"], ",.0f"),
        _number(summary["ratio_to_limit"], ".3g"),
    ]


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)
