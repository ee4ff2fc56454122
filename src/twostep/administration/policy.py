"""Office 2FA policy: an office admin requires 2FA for everyone, with a grace period.

Inside the grace period a user without 2FA is led to Enable 2FA after signing in; after it,
they can reach nothing but the 2FA setup pages (and sign out) until 2FA is on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import formats, translation

from twostep import clock
from twostep.audit import events, notify
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.models import TwoFactorDevice

if TYPE_CHECKING:
    from twostep.accounts.models import Office, User
    from twostep.http import Client

MAX_GRACE_DAYS = 90


@dataclass(frozen=True)
class Requirement:
    """What the policy asks of one user: nothing, enrol by ``deadline``, or enrol now."""

    required: bool
    deadline: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        return self.required and self.deadline is not None and now >= self.deadline


def deadline_for(office: Office, joined: datetime) -> datetime | None:
    if office.require_2fa_since is None:
        return None
    return max(office.require_2fa_since, joined) + timedelta(days=office.grace_days)


def requirement(user: User) -> Requirement:
    office = user.office
    if office is None or office.require_2fa_since is None:
        return Requirement(False)
    if TwoFactorDevice.objects.filter(user=user).exists():
        return Requirement(False)
    return Requirement(True, deadline_for(office, user.date_joined))


def set_policy(
    admin: User, office: Office, required: bool, grace_days: int, client: Client
) -> None:
    """Turn the policy on (with a grace period) or off; an audit event either way."""
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ValueError(f"The grace period must be 0 to {MAX_GRACE_DAYS} days.")
    with transaction.atomic():
        was_on = office.require_2fa_since is not None
        if required and not was_on:
            office.require_2fa_since = clock.utcnow()
        elif not required:
            office.require_2fa_since = None
        office.grace_days = grace_days
        office.save(update_fields=["require_2fa_since", "grace_days"])
        events.record(
            EventKind.OFFICE_POLICY_CHANGED,
            subject=None,
            actor=admin,
            client=client,
            subject_label=office.name,
            reason=f"2FA required, {grace_days} days grace" if required else "2FA optional",
        )


REMINDER_INTERVAL = timedelta(hours=1)


class Reminder(enum.Enum):
    SENT = "sent"
    NOT_NEEDED = "not needed"
    RECENTLY_SENT = "recently sent"  # one an hour per user: a second click sends nothing
    NOT_SENT = "not sent"  # the mail server refused it or could not be reached


def send_reminder(admin: User, user: User, client: Client) -> Reminder:
    """Email a user of the admin's office who still has no 2FA; recorded only once sent."""
    need = requirement(user)
    if not need.required or user.office_id != admin.office_id or user.pk == admin.pk:
        return Reminder.NOT_NEEDED
    recent = SecurityEvent.objects.filter(
        kind=EventKind.TWO_FACTOR_REMINDER_SENT,
        subject=user,
        at__gt=clock.utcnow() - REMINDER_INTERVAL,
    )
    if recent.exists():
        return Reminder.RECENTLY_SENT
    with translation.override(notify.email_language(user)):
        deadline = _deadline_text(need.deadline)
    if not notify.send(user, "two_factor_reminder", client, reason=deadline):
        return Reminder.NOT_SENT
    events.record(EventKind.TWO_FACTOR_REMINDER_SENT, subject=user, actor=admin, client=client)
    return Reminder.SENT


def _deadline_text(deadline: datetime | None) -> str:
    """The date in the active language ("05 March 2005", "05 maart 2005")."""
    return formats.date_format(deadline, "d F Y") if deadline else ""
