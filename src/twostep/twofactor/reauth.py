"""Re-authentication before a change to 2FA or to other people's sign-in.

Changes to a user's own 2FA (Disable 2FA, Set up a new phone, new recovery codes) need the
password *and* the current code or a recovery code (decision D1: ASVS 5.0 7.5.1, OWASP
"re-authenticate with an existing enrolled factor"). Confirm your password needs the
password. A wrong password counts towards the account's guessing limits, like a wrong code,
so a stolen session cannot be used to guess either here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from twostep import clock
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.conf import get_settings
from twostep.twofactor import limits
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.verification import check_second_factor
from twostep.waits import wait_phrase

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


class Reauth(enum.Enum):
    OK = "ok"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  (an outcome, not a password)
    WRONG_CODE = "wrong_code"
    WAIT = "wait"
    LOCKED = "locked"


@dataclass(frozen=True)
class ReauthCheck:
    outcome: Reauth
    wait_seconds: int = 0
    code_check: CodeCheck | None = None  # why the code was refused (WRONG_CODE)

    @property
    def ok(self) -> bool:
        return self.outcome is Reauth.OK

    def message(self) -> str:
        if self.outcome is Reauth.WRONG_CODE and self.code_check is not None:
            return self.code_check.message()
        if self.outcome is Reauth.WAIT:
            return _("Not yet: wait %(wait)s, then try again.") % {
                "wait": wait_phrase(self.wait_seconds)
            }
        if self.outcome is Reauth.LOCKED:
            return _(
                "Too many wrong attempts: the code step of this account is locked. "
                "Contact the helpdesk (%(contact)s) to get back in."
            ) % {"contact": get_settings().helpdesk_contact}
        return _("That password is not right. Nothing was changed.")


def check_current_password(user: User, password: str, client: Client, purpose: str) -> ReauthCheck:
    """Check the password under the guessing limits; call inside ``transaction.atomic()``.

    Holds the user's guessing row lock until the caller's transaction ends.
    """
    assert transaction.get_connection().in_atomic_block
    now = clock.utcnow()
    state = limits.locked_state(user)
    allowance = limits.check(state, client.address, now)
    if allowance.locked:
        return ReauthCheck(Reauth.LOCKED)
    if not allowance.allowed:
        return ReauthCheck(Reauth.WAIT, allowance.wait_seconds)
    if not user.check_password(password):
        newly_locked = limits.record_failure(state, client.address, now)
        events.record(
            EventKind.REAUTH_PASSWORD_REFUSED, subject=user, client=client, reason=purpose
        )
        if newly_locked:
            events.record(
                EventKind.CODE_STEP_LOCKED,
                subject=user,
                client=client,
                reason=f"wrong passwords: {purpose}",
            )
            notify.notify(user, "code_step_locked", client)  # sent once committed
            return ReauthCheck(Reauth.LOCKED)  # said now, not at the next try
        return ReauthCheck(Reauth.WRONG_PASSWORD)
    # A right password does not reset the streak of failures (limits.record_success): only
    # the second factor does. Otherwise someone who knows the password could type it on
    # Confirm your password between guesses of the code and never meet a growing wait.
    return ReauthCheck(Reauth.OK)


def check_password_and_code(
    user: User, password: str, code: str, client: Client, purpose: str
) -> ReauthCheck:
    """Full re-authentication: the password, then the app's current code or a recovery code.

    Call inside ``transaction.atomic()``. The code is checked (and used up) only after the
    right password; a wrong one counts under the same limits as at sign-in.
    """
    reauth = check_current_password(user, password, client, purpose)
    if not reauth.ok:
        return reauth
    check = check_second_factor(user, code, client)
    if check.accepted:
        return reauth
    if check.outcome is CodeOutcome.LOCKED:
        return ReauthCheck(Reauth.LOCKED)
    if check.outcome is CodeOutcome.WAIT:
        return ReauthCheck(Reauth.WAIT, check.wait_seconds)
    return ReauthCheck(Reauth.WRONG_CODE, code_check=check)
