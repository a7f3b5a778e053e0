"""The scenarios of ``python -m bench``, one module each, imported only when used."""

from __future__ import annotations

import importlib
from typing import cast

from bench.scenario import ScenarioModule

MODULES = {
    "fanout": "bench.scenarios.fanout",
    "chain": "bench.scenarios.chain",
    "loop": "bench.scenarios.loop",
    "replay": "bench.scenarios.replay",
    "cli": "bench.scenarios.cli",
    "cli-run": "bench.scenarios.cli_run",
    "limit": "bench.scenarios.limit",
    "distributed": "bench.scenarios.distributed",
    "validate": "bench.scenarios.validate",
    # Measured by bench/scenarios/ui.py (measure_ui); this module makes rows of its figures.
    "ui": "bench.scenarios.ui_open",
}


def scenario_module(name: str) -> ScenarioModule:
    return cast(ScenarioModule, importlib.import_module(MODULES[name]))
