"""Timers of a run (SPEC §10): what each one is for."""

from __future__ import annotations

from typing import Literal, TypeAlias

# The run's deadline, a leaf's deadline, the wait before a retry, a DAG's or loop's deadline.
TimerPurpose: TypeAlias = Literal["workflow", "task", "retry", "container"]
