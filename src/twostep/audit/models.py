"""An append-only log of security events. Never holds a key, a code or a password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Wrong email or password")
    PASSWORD_ACCEPTED = "password_accepted", _("Password accepted, code requested")
    CODE_ACCEPTED = "code_accepted", _("Code accepted")
    CODE_REFUSED = "code_refused", _("Code refused")
    CODE_STEP_LOCKED = "code_step_locked", _("Code step locked after too many wrong codes")
    TWO_FACTOR_ENABLED = "two_factor_enabled", _("2FA enabled")
    TWO_FACTOR_DISABLED = "two_factor_disabled", _("2FA disabled")
    TWO_FACTOR_RESET = "two_factor_reset", _("2FA reset by the helpdesk")
    REAUTH_PASSWORD_REFUSED = "reauth_password_refused", _("Wrong password when changing 2FA")
    RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced", _("New recovery codes made")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET = "password_reset", _("Password reset by email link")
    PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset link requested")
    SESSIONS_REVOKED = "sessions_revoked", _("Other sessions signed out")
    OFFICE_POLICY_CHANGED = "office_policy_changed", _("Office 2FA policy changed")
    TWO_FACTOR_REMINDER_SENT = "two_factor_reminder_sent", _("Reminder to enable 2FA sent")
    KEYS_ROTATED = "keys_rotated", _("Stored 2FA keys re-encrypted")


class SecurityEventQuerySet(models.QuerySet["SecurityEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Security events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Security events are append-only.")


class SecurityEvent(models.Model):
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="security_events_as_actor",
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="security_events",
    )
    # Kept as text too, so the record survives the deletion of an account.
    actor_label = models.CharField(max_length=254, blank=True)
    subject_label = models.CharField(max_length=254, blank=True)
    client_address = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    reason = models.TextField(blank=True)

    objects = SecurityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subject", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.subject_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Security events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Security events are append-only.")
