"""Turning 2FA off: by the user with their password, or by a helpdesk agent.

Both destroy the key, the pending key and the replay state, sign out the user's
other sessions, write an audit event and email the user.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from django.db import transaction

from twostep import clock
from twostep.accounts.sessions import sign_out_other_sessions
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.twofactor import limits
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


class DisableOutcome(enum.Enum):
    DISABLED = "disabled"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  (an outcome, not a password)
    NOT_ENABLED = "not_enabled"
    WAIT = "wait"
    LOCKED = "locked"


def _destroy_factor(user: User, client: Client, reason: str, actor: User | None) -> bool:
    """Delete key, pending key and replay state, sign out other sessions; True if 2FA was on."""
    deleted, _ = TwoFactorDevice.objects.filter(user=user).delete()
    PendingEnrolment.objects.filter(user=user).delete()
    sign_out_other_sessions(user, client, reason, actor)
    return deleted > 0


def disable_with_password(user: User, password: str, client: Client) -> tuple[DisableOutcome, int]:
    """The user's own Disable 2FA. A wrong password counts towards the guessing limits.

    Returns the outcome and, for WAIT, the seconds to wait.
    """
    now = clock.utcnow()
    with transaction.atomic():
        state = limits.locked_state(user)
        allowance = limits.check(state, client.address, now)
        if allowance.locked:
            return DisableOutcome.LOCKED, 0
        if not allowance.allowed:
            return DisableOutcome.WAIT, allowance.wait_seconds
        if not user.check_password(password):
            limits.record_failure(state, client.address, now)
            events.record(EventKind.DISABLE_PASSWORD_REFUSED, subject=user, client=client)
            return DisableOutcome.WRONG_PASSWORD, 0
        if not TwoFactorDevice.objects.filter(user=user).exists():
            return DisableOutcome.NOT_ENABLED, 0
        _destroy_factor(user, client, "2FA disabled", actor=user)
        events.record(EventKind.TWO_FACTOR_DISABLED, subject=user, actor=user, client=client)
    notify.notify(user, "two_factor_disabled", client)
    return DisableOutcome.DISABLED, 0


def helpdesk_reset(agent: User | None, user: User, reason: str, client: Client) -> bool:
    """Clear the user's 2FA after the agent confirmed their identity. ``agent`` None = CLI.

    Also lifts a lock of the code step. Returns False (and changes nothing) if the user
    had no 2FA and no lock.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("A helpdesk reset needs a reason or ticket reference.")
    with transaction.atomic():
        had_lock = limits.locked_state(user).locked_at is not None
        had_factor = _destroy_factor(user, client, "2FA reset by the helpdesk", actor=agent)
        limits.forget(user)
        if not (had_factor or had_lock):
            transaction.set_rollback(True)
            return False
        events.record(
            EventKind.TWO_FACTOR_RESET, subject=user, actor=agent, client=client, reason=reason
        )
    notify.notify(user, "two_factor_reset", client, reason=reason)
    return True
