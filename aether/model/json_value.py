"""The type of a JSON value as Aether holds it: documents, parameters, payloads, views.

It is ``Any``, not the recursive union ``dict[str, JSON] | list[JSON] | str | int | float |
bool | None``: the code walks parsed documents and payloads by key (``cron["name"]``,
``view["tasks"]``), and under the union every such step needs a narrowing first, which
would be several hundred checks that say nothing new. The alias still names which values
are JSON, and a stricter definition, when wanted, is made here once.
"""

from __future__ import annotations

from typing import Any, TypeAlias

JSON: TypeAlias = Any
