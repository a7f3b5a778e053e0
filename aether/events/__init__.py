"""Layer 3: the event catalog, its codec and upcasters."""

# Cron, import and WorkflowTemplate events live in their own modules; importing them
# registers them with the catalog so every decoder (history, replay, transfer) knows them.
from aether.events import catalog, cron_events, import_events, template_events

__all__ = ["catalog", "cron_events", "import_events", "template_events"]
