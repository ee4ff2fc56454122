"""Pure recovery-code logic: make codes, read a typed code, and digest it for storage.

A code is 16 characters of Crockford's base32 (80 bits), shown as ``xxxx-xxxx-xxxx-xxxx``
for reading aloud; the alphabet has no i, l, o or u, and typed ``o``/``i``/``l`` are read
as ``0``/``1``/``1``. Stored only as HMAC-SHA256 digests with a random per-user salt.
Imports no Django.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 16
COUNT = 10
_TYPO = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SEPARATORS = frozenset(" \t\r\n\u00a0\u202f-\u2010\u2011\u2012\u2013\u2212")


def new_codes(count: int = COUNT) -> list[str]:
    return [
        format_code("".join(secrets.choice(ALPHABET) for _ in range(LENGTH))) for _ in range(count)
    ]


def format_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise(typed: str) -> str | None:
    """The 16 canonical characters of a typed code, or None if it cannot be one."""
    if len(typed) > 64:
        return None
    kept = "".join(ch for ch in typed.lower() if ch not in _SEPARATORS).translate(_TYPO)
    if len(kept) != LENGTH or any(ch not in ALPHABET for ch in kept):
        return None
    return kept


def new_salt() -> str:
    return secrets.token_hex(16)


def digest(code: str, salt: str) -> str:
    """HMAC-SHA256 of the canonical code; 80 random bits need no slow hash (see security.md)."""
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return hmac.new(bytes.fromhex(salt), canonical.encode(), hashlib.sha256).hexdigest()
