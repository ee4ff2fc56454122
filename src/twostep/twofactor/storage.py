"""Sealing and unsealing a user's TOTP key with the key ring from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twostep.conf import get_settings
from twostep.twofactor.keyring import KeyRing

if TYPE_CHECKING:
    from twostep.accounts.models import User


def key_ring() -> KeyRing:
    return KeyRing.parse(get_settings().key_ring)


def context_for(user_id: int) -> bytes:
    """Authenticated data: a sealed key only opens on its own user's row."""
    return f"twostep:totp-key:user:{user_id}".encode()


def seal(user: User, key: bytes) -> str:
    return key_ring().encrypt(key, context_for(user.pk))


def unseal(user_id: int, token: str) -> bytes:
    return key_ring().decrypt(token, context_for(user_id))
