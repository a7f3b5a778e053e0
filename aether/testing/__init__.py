"""Layer 11: what Aether ships for testing event-log adapters (SPEC §15).

- :mod:`aether.testing.adapters`: the registry of adapters every suite runs against
  (``memory``, ``sqlite``); a new adapter joins every suite with one
  :func:`~aether.testing.adapters.register_adapter` call.
- :mod:`aether.testing.fixtures`: the pytest plugin that parametrizes the
  ``event_log_factory`` fixture over that registry.
- :mod:`aether.testing.contract`: the adapter contract, as test classes to subclass.
- :mod:`aether.testing.coordination_contract`: the contract of the members, run leases and
  claims an adapter keeps beside its log, in the same form.
- :mod:`aether.testing.log_checks`: small events and the log-wide invariants the contract checks.

This package is for tests only. Nothing in ``aether`` imports it, and it is the only part of
``aether`` that imports pytest (a test dependency, the ``test`` extra): import
:mod:`~aether.testing.fixtures` or :mod:`~aether.testing.contract` only where pytest is installed.
Importing this package itself imports nothing.
"""
