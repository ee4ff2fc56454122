"""Stored 2FA state: the confirmed device, a pending enrolment, and the guessing record.

Keys are stored only encrypted (twofactor.keyring); no model exposes them in clear.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


class TwoFactorDevice(models.Model):
    """A confirmed authenticator: its existence means 2FA is on for the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor_device"
    )
    encrypted_key = models.TextField()
    confirmed_at = models.DateTimeField()
    # The newest time step accepted; any step at or before it is refused (replay).
    last_used_step = models.BigIntegerField()
    last_used_at = models.DateTimeField()
    # Future steps whose codes were refused with a clock hint: never accepted later, so a
    # hint gives a guesser nothing to replay (see otp.clock_offset). Pruned as time passes.
    refused_future_steps = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"2FA device of user {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored only as an Argon2id hash (recovery_codes).

    ``salt`` is set only on codes made before Argon2 (HMAC digests, still accepted)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    salt = models.CharField(max_length=32, blank=True, default="")
    digest = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"])]

    def __str__(self) -> str:
        return f"Recovery code of user {self.user_id}"


def new_pending_token() -> str:
    return secrets.token_hex(16)


class PendingEnrolment(models.Model):
    """A key shown to the user but not yet confirmed by a code. Protects nothing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_enrolment"
    )
    encrypted_key = models.TextField()
    created_at = models.DateTimeField()
    # Names this key (``enrolment.pending_token``), new with every key; unlike the sealed
    # key, it survives ``rotate_keyring``, so a setup in progress is not lost by a rotation.
    token = models.CharField(max_length=32, default=new_pending_token)

    def __str__(self) -> str:
        return f"Pending enrolment of user {self.user_id}"


class GuessingState(models.Model):
    """Per-account counters that every worker sees; its row is the lock for one verification."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="guessing_state",
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Guessing state of user {self.user_id}"


class CodeFailure(models.Model):
    """One refused attempt (code or re-entered password), for the sliding-window caps."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="code_failures"
    )
    client_address = models.CharField(max_length=45, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "at"]),
            models.Index(fields=["client_address", "at"]),
        ]

    def __str__(self) -> str:
        return f"Failure of user {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"
