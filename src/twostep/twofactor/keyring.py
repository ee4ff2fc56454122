"""Encryption of TOTP keys at rest with a key ring held in settings, not in the database.

A token is ``<key id>$<base64(nonce || AES-256-GCM ciphertext)>``. The user's id is
authenticated data, so a ciphertext copied onto another user's row does not decrypt.
The first key of the ring encrypts; every key decrypts; ``rotate`` re-encrypts.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_TAG_BYTES = 16


class KeyRingError(ValueError):
    pass


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Read ``id:base64key,id:base64key`` (32-byte keys; the first one encrypts)."""
        keys: list[tuple[str, bytes]] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id.isalnum():
                raise KeyRingError("Each key ring entry must look like 'id:base64key'.")
            try:
                raw = base64.b64decode(encoded.encode("ascii"), altchars=b"-_", validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KeyRingError(f"Key {key_id!r} is not valid base64.") from exc
            if len(raw) != 32:
                raise KeyRingError(f"Key {key_id!r} must be 32 bytes (AES-256).")
            if any(key_id == known for known, _ in keys):
                raise KeyRingError(f"Key id {key_id!r} appears twice.")
            keys.append((key_id, raw))
        if not keys:
            raise KeyRingError("The key ring is empty.")
        return cls(tuple(keys))

    @staticmethod
    def generate_entry(key_id: str) -> str:
        return f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(256)).decode()}"

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    def encrypt(self, plaintext: bytes, context: bytes) -> str:
        key_id, key = self.keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext, context)
        return f"{key_id}${base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: bytes) -> bytes:
        key_id, _, encoded = token.partition("$")
        key = dict(self.keys).get(key_id)
        if key is None:
            raise KeyRingError(f"No key {key_id!r} in the key ring.")
        try:
            blob = base64.b64decode(encoded.encode("ascii"), altchars=b"-_", validate=True)
            if len(blob) < _NONCE_BYTES + _TAG_BYTES:
                raise ValueError("too short")
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise KeyRingError("A stored key is damaged or failed authentication.") from exc

    def needs_rotation(self, token: str) -> bool:
        return token.partition("$")[0] != self.primary_id

    def rotate(self, token: str, context: bytes) -> str:
        return self.encrypt(self.decrypt(token, context), context)
