"""Errors a reducer raises: the history asks for something SPEC forbids."""

from __future__ import annotations


class IllegalTransition(Exception):
    """An event asks for a move the phase machine of SPEC §6.4 does not list, or
    records a fact that cannot happen (an attempt finishing twice, an unknown node)."""
