"""The phase names of nodes and runs (SPEC §6.4), as a type a typo cannot pass.

Events written by an older or newer Aether may carry a phase this one does not know:
decoding keeps such a value as it is (see :mod:`aether.events.codec`), so the type says
what Aether itself writes, not what every stored payload holds.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

Phase: TypeAlias = Literal[
    "Created",
    "Ready",
    "Running",
    "Suspended",
    "Succeeded",
    "Failed",
    "Error",
    "Timeout",
    "Cancelled",
    "Skipped",
]
