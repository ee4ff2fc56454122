"""The result of one code check, and what the user is told about it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from twostep.conf import get_settings
from twostep.waits import wait_phrase


class CodeOutcome(enum.Enum):
    ACCEPTED = "accepted"
    WRONG_CODE = "wrong_code"
    REPLAYED = "replayed"
    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    WRONG_LENGTH = "wrong_length"
    WAIT = "wait"
    LOCKED = "locked"
    NO_KEY = "no_key"
    NOT_A_RECOVERY_CODE = "not_a_recovery_code"
    UNAVAILABLE = "unavailable"
    WRONG_SETUP_CODE = "wrong_setup_code"
    WRONG_RECOVERY_CODE = "wrong_recovery_code"  # not one of the unused codes
    RECOVERY_CODE_REPLAYED = "recovery_code_replayed"  # used by a concurrent request just now

    @property
    def counts_as_failure(self) -> bool:
        return self not in {
            CodeOutcome.UNAVAILABLE,
            CodeOutcome.ACCEPTED,
            CodeOutcome.WAIT,
            CodeOutcome.LOCKED,
            CodeOutcome.NO_KEY,
        }

    @property
    def is_replay(self) -> bool:
        """A code that was right but already used: usually the user's own double submit."""
        return self in {CodeOutcome.REPLAYED, CodeOutcome.RECOVERY_CODE_REPLAYED}


@dataclass(frozen=True)
class CodeCheck:
    outcome: CodeOutcome
    wait_seconds: int = 0
    clock_offset_steps: int | None = None
    now_locked: bool = False  # this refused attempt locked the code step

    @property
    def accepted(self) -> bool:
        return self.outcome is CodeOutcome.ACCEPTED

    def message(self, *, recovery_code: bool = False) -> str:
        """A sentence that tells the user what to do next (``recovery_code``: on the page
        that asks for a recovery code, where there is no "newest code" to wait for)."""
        contact = get_settings().helpdesk_contact
        if self.now_locked:
            return CodeCheck(CodeOutcome.LOCKED).message()
        wrong = {CodeOutcome.WRONG_CODE, CodeOutcome.WRONG_SETUP_CODE}
        if self.outcome in wrong and self.clock_offset_steps:
            return clock_hint(self.clock_offset_steps)
        recovery_refused = _(
            "That recovery code is not right, or it was already used: each one works "
            "once. Enter another code from your list of recovery codes."
        )
        messages = {
            CodeOutcome.WRONG_CODE: _(
                "That code is not right. Enter the newest code shown by the authenticator "
                "app you used when you turned on 2FA."
            ),
            CodeOutcome.WRONG_SETUP_CODE: _(
                "That code is not right. Enter the newest code that your authenticator app "
                "shows for this account."
            ),
            CodeOutcome.REPLAYED: _(
                "That code has already been used. Wait for the next code to appear in your "
                "authenticator app and enter that one."
            ),
            CodeOutcome.EMPTY: _("Enter the 6-digit code from your authenticator app."),
            CodeOutcome.NOT_DIGITS: _("Enter the 6-digit code using the digits 0-9."),
            CodeOutcome.WRONG_LENGTH: _(
                "Enter the 6-digit code: it has exactly 6 digits, no more and no fewer."
            ),
            CodeOutcome.WAIT: (
                _("Not yet: wait %(wait)s, then enter a recovery code again.")
                if recovery_code
                else _("Not yet: wait %(wait)s, then enter the newest code.")
            )
            % {"wait": wait_phrase(self.wait_seconds)},
            CodeOutcome.LOCKED: _(
                "Too many wrong attempts: the code step of this account is locked. "
                "Contact the helpdesk (%(contact)s) to get back in."
            )
            % {"contact": contact},
            CodeOutcome.NO_KEY: _("This 2FA setup has expired. Start again with Enable 2FA."),
            CodeOutcome.WRONG_RECOVERY_CODE: recovery_refused,
            CodeOutcome.RECOVERY_CODE_REPLAYED: recovery_refused,
            CodeOutcome.NOT_A_RECOVERY_CODE: _(
                "Enter one of your recovery codes: 16 letters and digits, like abcd-efgh-jkmn-pqrs."
            ),
            CodeOutcome.UNAVAILABLE: _(
                "Two-factor sign-in is unavailable for a moment on our side. Try again in a few "
                "minutes, or contact the helpdesk (%(contact)s)."
            )
            % {"contact": contact},
            CodeOutcome.ACCEPTED: "",
        }
        return messages[self.outcome]


def clock_hint(offset_steps: int) -> str:
    """Tell the user their phone's clock is off, by about how much, and how to fix it."""
    minutes = max(1, round(abs(offset_steps) * 30 / 60))
    amount = ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    if offset_steps > 0:
        where = _("Your phone's clock seems to be about %(amount)s ahead.") % {"amount": amount}
    else:
        where = _("Your phone's clock seems to be about %(amount)s behind.") % {"amount": amount}
    return " ".join(
        [
            _("That code is not right now."),
            where,
            _(
                "Turn on automatic date and time in your phone's settings, then enter the "
                "newest code."
            ),
        ]
    )
