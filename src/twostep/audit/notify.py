"""Emails that tell a user what happened to their account's security."""

from __future__ import annotations

import logging
import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from twostep import clock
from twostep.conf import get_settings

if TYPE_CHECKING:
    from datetime import datetime

    from twostep.accounts.models import User
    from twostep.http import Client

logger = logging.getLogger(__name__)

SUBJECTS = {
    "two_factor_enabled": _("Two-factor authentication was turned on"),
    "two_factor_replaced": _("A new phone was set up for two-factor authentication"),
    "two_factor_disabled": _("Two-factor authentication was turned off"),
    "two_factor_reset": _("Support removed two-factor authentication from your account"),
    "code_step_locked": _("Your account's code step is locked"),
    "code_refused": _("A wrong code was entered after your password"),
    "password_changed": _("Your password was changed"),
    "recovery_code_used": _("A recovery code was used to sign in"),
    "recovery_code_used_for_change": _("A recovery code was used to confirm a change"),
    "recovery_codes_replaced": _("You have new recovery codes"),
    "two_factor_reminder": _("Your office asks you to turn on two-factor authentication"),
}


def email_language(user: User) -> str:
    """The user's saved language, else the current request's, else the site's default."""
    return user.language or translation.get_language() or settings.LANGUAGE_CODE


def notify(user: User, what: str, client: Client, reason: str = "") -> None:
    """Email the user about ``what`` (a key of SUBJECTS) once the change is committed.

    The mail waits for the commit of the transaction around the change (at once when there is
    none), so that a mail server that is down or slow can neither roll back what the mail
    reports (a counted wrong code, say) nor hold a lock while it answers; a mail that cannot
    be sent is logged, and the change stands.
    """
    when = clock.utcnow()
    transaction.on_commit(lambda: send(user, what, client, reason, when=when))


def send(
    user: User, what: str, client: Client, reason: str = "", *, when: datetime | None = None
) -> bool:
    """Send the email now, in the user's language (``email_language``); False if the mail
    server refused it or could not be reached (logged)."""
    context = {
        "user": user,
        "when": when or clock.utcnow(),
        "client": client,
        "reason": reason,
        "helpdesk_contact": get_settings().helpdesk_contact,
        "issuer": get_settings().issuer,
    }
    with translation.override(email_language(user)):
        body = render_to_string(f"audit/email/{what}.txt", context)
        subject = f"[{get_settings().issuer}] {SUBJECTS[what]}"
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError):
        logger.exception("The %s email to user %s could not be sent", what, user.pk)
        return False
    return True
