"""Client keys: made once, stored as SHA-256 hashes, checked in constant time.

``agent-adapter keys new --name team-a`` prints a fresh key (shown once) and
the config lines holding its hash. A request's key is hashed and compared
with ``hmac.compare_digest`` against every configured hash, all of them, so
the time taken says nothing about which (or whether one) matched. Neither
the presented key nor a configured hash is ever echoed in an error or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from .settings import KeySettings

__all__ = ["KEY_PREFIX", "KeyRing", "bearer", "key_hash", "new_key"]

KEY_PREFIX = "aa-"
"""What a gateway key starts with, so a leaked one is recognisable (and scannable)."""


def new_key() -> str:
    """A fresh client key: ``aa-`` and 43 characters (256 random bits, URL-safe)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """The config form of ``key``'s hash: ``"sha256:<64 hex digits>"``."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer(value: bytes | None) -> str | None:
    """The key in an ``Authorization: Bearer <key>`` header value (scheme case-insensitive)."""
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    return token.decode("latin-1") if token else None


class KeyRing:
    """The configured keys; ``find`` tells which one a request presented.

    With no keys configured the gateway is open: ``required`` is false and
    every request is anonymous (``find`` returns ``None`` and is not asked).
    """

    __slots__ = ("_digests", "_keys")

    def __init__(self, keys: Sequence[KeySettings]) -> None:
        self._keys = tuple(keys)
        self._digests = tuple(k.digest for k in self._keys)

    @property
    def required(self) -> bool:
        """Whether requests must present a key."""
        return bool(self._keys)

    def find(self, presented: str | None) -> KeySettings | None:
        """The key ``presented`` is, or ``None``: every hash is compared, whatever matches."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: KeySettings | None = None
        for key, known in zip(self._keys, self._digests, strict=True):
            if hmac.compare_digest(known, digest):
                found = key
        return found
