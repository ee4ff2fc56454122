"""Pure recovery-code logic: make codes, read a typed code, and digest it for storage.

A code is 16 characters of Crockford's base32 (80 bits), shown as ``xxxx-xxxx-xxxx-xxxx``
for reading aloud; the alphabet has no i, l, o or u, and typed ``o``/``i``/``l`` are read
as ``0``/``1``/``1``. Stored only as Argon2id hashes, each with its own random salt: NIST
800-63B-4 §3.1.2.2 asks for a password-hashing scheme when a look-up secret has fewer than
112 bits (S51). Codes made before that are HMAC-SHA256 digests with a per-user salt and are
still accepted. Imports no Django.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 16
COUNT = 10
_TYPO = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SEPARATORS = frozenset(" \t\r\n\u00a0\u202f-\u2010\u2011\u2012\u2013\u2212")
# 80 random bits need a cost factor, not a password's: t=1, 8 MiB is about 5 ms a check, so a
# sign-in with a recovery code (ten checks, no early exit) stays well under a second, while
# 2^80 guesses at that cost are out of reach (docs/security.md, D5).
_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)


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
    """HMAC-SHA256 of the canonical code: how codes were stored before Argon2 (still read)."""
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return hmac.new(bytes.fromhex(salt), canonical.encode(), hashlib.sha256).hexdigest()


def hash_for_storage(code: str) -> str:
    """The Argon2id hash of the canonical code (its own random salt is inside the hash)."""
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return _HASHER.hash(canonical)


def matches(canonical: str, stored: str, legacy_salt: str = "") -> bool:
    """Whether ``canonical`` is the code stored as ``stored`` (an Argon2id hash, or an
    HMAC digest from before Argon2 with ``legacy_salt``)."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, canonical)
        except (VerificationError, InvalidHashError):
            return False
    if not legacy_salt:
        return False
    return hmac.compare_digest(stored, digest(canonical, legacy_salt))
