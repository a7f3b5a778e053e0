"""Shared test configuration: hypothesis profiles.

``ci`` keeps the whole suite inside CI's time budget on a 2-core machine; ``dev``
is the default for local runs; ``thorough`` is for hunting bugs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# ``event_log_factory``: the store, conformance and projection suites run on every
# registered event-log adapter (aether/testing/adapters.py).
pytest_plugins = ["aether.testing.fixtures"]

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
