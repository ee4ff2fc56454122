"""Emails that tell a user what happened to their account's security."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.mail import send_mail
from django.template.loader import render_to_string

from twostep import clock
from twostep.conf import get_settings

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client

SUBJECTS = {
    "two_factor_enabled": "Two-factor authentication was turned on",
    "two_factor_disabled": "Two-factor authentication was turned off",
    "two_factor_reset": "Support removed two-factor authentication from your account",
    "code_step_locked": "Your account's code step is locked",
    "code_refused": "A wrong code was entered after your password",
    "password_changed": "Your password was changed",
    "recovery_code_used": "A recovery code was used to sign in",
    "recovery_codes_replaced": "You have new recovery codes",
    "two_factor_reminder": "Your office asks you to turn on two-factor authentication",
}


def notify(user: User, what: str, client: Client, reason: str = "") -> None:
    """Send one email about ``what`` (a key of SUBJECTS) to the user's address."""
    context = {
        "user": user,
        "when": clock.utcnow(),
        "client": client,
        "reason": reason,
        "helpdesk_contact": get_settings().helpdesk_contact,
        "issuer": get_settings().issuer,
    }
    body = render_to_string(f"audit/email/{what}.txt", context)
    send_mail(f"[{get_settings().issuer}] {SUBJECTS[what]}", body, None, [user.email])
