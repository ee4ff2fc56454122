"""Turning 2FA off: by the user with their password and a code, or by a helpdesk agent.

Both destroy the key, the pending key and the replay state, sign out the user's
other sessions, write an audit event and email the user.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from django.db import transaction

from twostep.accounts.sessions import sign_out_other_sessions
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.twofactor import limits
from twostep.twofactor.models import PendingEnrolment, RecoveryCode, TwoFactorDevice
from twostep.twofactor.reauth import Reauth, ReauthCheck, check_password_and_code

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


class DisableOutcome(enum.Enum):
    DISABLED = "disabled"
    NOT_ENABLED = "not_enabled"
    REFUSED = "refused"  # the password or the code (see the ReauthCheck)


def _destroy_factor(user: User, client: Client, reason: str, actor: User | None) -> bool:
    """Delete key, pending key and replay state, sign out other sessions; True if 2FA was on."""
    deleted, _ = TwoFactorDevice.objects.filter(user=user).delete()
    PendingEnrolment.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    sign_out_other_sessions(user, client, reason, actor)
    return deleted > 0


def disable_with_password(
    user: User, password: str, code: str, client: Client
) -> tuple[DisableOutcome, ReauthCheck]:
    """The user's own Disable 2FA: password and code (D1); wrong ones count under the limits."""
    with transaction.atomic():
        if not TwoFactorDevice.objects.filter(user=user).exists():
            return DisableOutcome.NOT_ENABLED, ReauthCheck(Reauth.OK)
        reauth = check_password_and_code(user, password, code, client, "disable 2FA")
        if not reauth.ok:
            return DisableOutcome.REFUSED, reauth
        if not TwoFactorDevice.objects.filter(user=user).exists():
            return DisableOutcome.NOT_ENABLED, reauth
        _destroy_factor(user, client, "2FA disabled", actor=user)
        events.record(EventKind.TWO_FACTOR_DISABLED, subject=user, actor=user, client=client)
    notify.notify(user, "two_factor_disabled", client)
    return DisableOutcome.DISABLED, reauth


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
        if not (had_lock or TwoFactorDevice.objects.filter(user=user).exists()):
            return False  # nothing to reset: nothing written, nothing logged
        _destroy_factor(user, client, "2FA reset by the helpdesk", actor=agent)
        limits.forget(user)
        events.record(
            EventKind.TWO_FACTOR_RESET, subject=user, actor=agent, client=client, reason=reason
        )
    notify.notify(user, "two_factor_reset", client, reason=reason)
    return True
