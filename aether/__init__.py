"""Aether: an event-sourced workflow engine for aether/v1 documents."""

__version__ = "0.1.0"
