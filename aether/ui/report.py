"""``aether report``: one HTML file that shows a run with no server and no network.

The file carries the run page's script and style inline and the run's document
(``aether.ui.run_data``) as packed JSON (``aether.ui.packing``); the page computes every
point of the time slider from the nodes' recorded phase changes, so the file holds one
document, not one view per event.
"""

from __future__ import annotations

import orjson

from aether.runtime.queries import QueryService
from aether.ui.packing import pack
from aether.ui.pages import report_page
from aether.ui.run_data import run_data


def build_report(queries: QueryService, run_id: str) -> str:
    """The report of ``run_id``; :class:`RunNotFound` for an unknown run."""
    document = run_data(queries, run_id, with_logs=True)
    return report_page(run_id, orjson.dumps(pack(document)).decode())
