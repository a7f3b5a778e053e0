"""Value records shared by events, assignments and results.

Parameters at run time keep their JSON type end to end (SPEC §4.1). ``has_value``
distinguishes "no value" from a JSON ``null`` value, which a binding can produce.
A secret input carries only its reference, never the value (ARCHITECTURE rule 8).
"""

from __future__ import annotations

from attrs import frozen

from aether.model.json_value import JSON


@frozen
class SecretRef:
    name: str
    key: str


@frozen
class BoundParameter:
    name: str
    value: JSON = None
    has_value: bool = False
    type: str | None = None
    description: str | None = None
    enum: tuple[JSON, ...] | None = None
    default: JSON = None
    secret_key_ref: SecretRef | None = None

    def with_value(self, value: JSON) -> BoundParameter:
        return BoundParameter(self.name, value, True, self.type, self.description, self.enum, self.default, None)

    def to_wire(self) -> dict[str, JSON]:
        """The assignment form of SPEC §14.1: ``{name, type?, value?}`` or ``{name, secretKeyRef}``."""
        out: dict[str, JSON] = {"name": self.name}
        if self.type is not None:
            out["type"] = self.type
        if self.secret_key_ref is not None:
            out["secretKeyRef"] = {"name": self.secret_key_ref.name, "key": self.secret_key_ref.key}
        elif self.has_value:
            out["value"] = self.value
        return out


@frozen
class ResultParameter:
    """One parameter a worker reported: ``{name, type?, value?}``."""

    name: str
    value: JSON = None
    has_value: bool = True
    type: str | None = None

    def to_wire(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"name": self.name}
        if self.type is not None:
            out["type"] = self.type
        if self.has_value:
            out["value"] = self.value
        return out
