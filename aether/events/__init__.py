"""Layer 3: the event catalog, its codec and upcasters."""

# Cron events live in their own module; importing it registers them with the catalog so
# every decoder (history, replay, transfer) knows them.
from aether.events import catalog, cron_events

__all__ = ["catalog", "cron_events"]
