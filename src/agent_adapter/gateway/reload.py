"""Reloading the client keys (``SIGHUP``): the file's ``[gateway.keys]``, checked, and what changed.

Only the keys are reloaded: adding, rotating and revoking a key must not
need a restart that drops every open stream, while the rest (the models,
the limits every request meets, the bind) is wired into the running server
and waits for a restart; ``read_keys`` names what changed of it, for the
log. A key whose limits did not change keeps its gates, so a reload never
hands out a fresh rpm bucket (``carry_limits``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .limits import KeyLimits
from .settings import GatewaySettings, KeySettings, read_settings

if TYPE_CHECKING:
    from ..pricing import Price
    from ..resilience import Store

__all__ = ["KeyChanges", "carry_limits", "read_keys"]


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """The names of the keys a reload added, revoked, rotated (new hash) or changed otherwise."""

    added: tuple[str, ...] = ()
    revoked: tuple[str, ...] = ()
    rotated: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @classmethod
    def between(cls, old: Sequence[KeySettings], new: Sequence[KeySettings]) -> KeyChanges:
        """What turns the keys ``old`` into ``new``, by name."""
        before = {key.name: key for key in old}
        after = {key.name: key for key in new}
        common = [name for name in after if name in before]
        return cls(
            added=tuple(name for name in after if name not in before),
            revoked=tuple(name for name in before if name not in after),
            rotated=tuple(n for n in common if before[n].digest != after[n].digest),
            changed=tuple(
                n for n in common if before[n].digest == after[n].digest and before[n] != after[n]
            ),
        )

    def __str__(self) -> str:
        parts = [
            f"{what}: {', '.join(names)}"
            for what, names in (
                ("added", self.added),
                ("revoked", self.revoked),
                ("rotated", self.rotated),
                ("changed", self.changed),
            )
            if names
        ]
        return "; ".join(parts) or "no key changed"


def carry_limits(
    current: Mapping[str, KeyLimits],
    keys: Sequence[KeySettings],
    store: Store | None,
    *,
    prices: Mapping[str, Price] | None = None,
) -> dict[str, KeyLimits]:
    """The gates for ``keys``: a key's current ones when its limits are the same, else new ones.

    A budget's spend lives in the store, so a key whose budget changed keeps
    what it spent this period.
    """
    limits: dict[str, KeyLimits] = {}
    for key in keys:
        kept = current.get(key.name)
        if kept is not None and kept.fits(key):
            limits[key.name] = kept
        else:
            limits[key.name] = KeyLimits(key, store, prices=prices)
    return limits


def read_keys(
    path: str | os.PathLike[str],
    env: Mapping[str, str],
    running: GatewaySettings,
    groups: Collection[str],
) -> tuple[GatewaySettings, list[str]]:
    """The file's checked settings, and what changed outside ``[gateway.keys]`` (not applied).

    Raises ``ValidationError`` (naming the key path) for any mistake in the
    file, as at start-up: a reload reads the file whole.
    """
    from ..config import load_config

    config = load_config(path, env=env)
    settings = read_settings(
        config.gateway, groups=config.models, allow_direct=bool(config.allow_direct)
    )
    ignored = [
        f"gateway.{field.name}"
        for field in dataclasses.fields(GatewaySettings)
        if field.name != "keys" and getattr(settings, field.name) != getattr(running, field.name)
    ]
    if tuple(config.models) != tuple(groups):
        ignored.append("models")
    return settings, ignored
