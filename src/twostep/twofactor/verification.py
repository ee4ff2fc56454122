"""The one verifier: every place that takes a code calls ``check_code``.

Inside one transaction, holding the user's guessing row lock, it checks the guessing
limits, reads the typed code, compares it with the key, records the accepted time
step with a conditional UPDATE (so two concurrent requests can never both win), and
counts a failure. Callers only say which key to check against and what to do on success.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from twostep import clock, otp, recovery_codes
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.twofactor import limits
from twostep.twofactor.keyring import KeyRingError
from twostep.twofactor.models import RecoveryCode, TwoFactorDevice
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.storage import unseal

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client

logger = logging.getLogger("twostep.twofactor")

_PROBLEMS = {
    otp.CodeProblem.EMPTY: CodeOutcome.EMPTY,
    otp.CodeProblem.NOT_ASCII_DIGITS: CodeOutcome.NOT_DIGITS,
    otp.CodeProblem.WRONG_LENGTH: CodeOutcome.WRONG_LENGTH,
}


class Purpose(enum.Enum):
    LOGIN = "login"
    ENROLMENT = "enrolment"
    RECOVERY = "recovery"
    REAUTH = "reauth"  # the second factor again before a change to 2FA (D1)


# Given the normalised input and the time, check it and persist a success.
# (A CodeCheck when there is more to say, e.g. a clock hint.)
Attempt = Callable[[str, datetime], CodeOutcome | CodeCheck]
# Read the typed text: the normalised input, or the outcome that refuses it.
Reader = Callable[[str], tuple[str | None, CodeOutcome | None]]


def read_totp_code(raw: str) -> tuple[str | None, CodeOutcome | None]:
    typed = otp.normalise_code(raw)
    if typed.problem is not None:
        return None, _PROBLEMS[typed.problem]
    return typed.digits, None


def read_recovery_code(raw: str) -> tuple[str | None, CodeOutcome | None]:
    canonical = recovery_codes.normalise(raw)
    return (canonical, None) if canonical else (None, CodeOutcome.NOT_A_RECOVERY_CODE)


def check_code(
    user: User,
    raw_code: str,
    client: Client,
    purpose: Purpose,
    attempt: Attempt,
    read: Reader = read_totp_code,
    on_accept: Callable[[], None] | None = None,
) -> CodeCheck:
    """Run ``attempt`` under the guessing limits; count and record whatever is refused.

    ``on_accept`` runs inside the same transaction when the code is accepted (signing in):
    one write transaction per code step, which is what SQLite's single writer lock rewards.
    Emails go out once the outermost transaction commits (``notify``), never while a lock
    is held, and a mail server that is down never undoes a count.
    """
    now = clock.utcnow()
    notices: list[str] = []
    with transaction.atomic():
        state = limits.locked_state(user)
        allowance = limits.check(state, client.address, now)
        if allowance.locked:
            return CodeCheck(CodeOutcome.LOCKED)
        if not allowance.allowed:
            return CodeCheck(CodeOutcome.WAIT, allowance.wait_seconds)
        normalised, refusal = read(raw_code)
        if refusal is not None or normalised is None:
            result: CodeOutcome | CodeCheck = refusal or CodeOutcome.WRONG_CODE
        else:
            try:
                result = attempt(normalised, now)
            except KeyRingError:
                # A stored key this server cannot open (e.g. a key ring rotated on another
                # server first): an operator's problem, never the user's failure.
                logger.exception("2FA key of user %s cannot be decrypted", user.pk)
                return CodeCheck(CodeOutcome.UNAVAILABLE)
        check = result if isinstance(result, CodeCheck) else CodeCheck(result)
        outcome = check.outcome
        if outcome is CodeOutcome.ACCEPTED:
            limits.record_success(state)
            if purpose is Purpose.LOGIN:
                events.record(EventKind.CODE_ACCEPTED, subject=user, client=client)
            if on_accept is not None:
                on_accept()
        elif outcome.counts_as_failure:
            first_of_streak = state.consecutive_failures == 0
            newly_locked = limits.record_failure(state, client.address, now)
            events.record(
                EventKind.CODE_REFUSED,
                subject=user,
                client=client,
                reason=f"{purpose.value}: {outcome.value}",
            )
            if newly_locked:
                events.record(EventKind.CODE_STEP_LOCKED, subject=user, client=client)
                notices.append("code_step_locked")
                check = replace(check, now_locked=True)  # say so now, not at the next try
            elif (
                first_of_streak
                and purpose in {Purpose.LOGIN, Purpose.RECOVERY, Purpose.REAUTH}
                and not outcome.is_replay  # usually the user's own double submit
            ):
                notices.append("code_refused")
    for what in notices:
        notify.notify(user, what, client)
    return check


def check_login_code(
    user: User, raw_code: str, client: Client, on_accept: Callable[[], None] | None = None
) -> CodeCheck:
    """The code step of a login, against the user's confirmed device."""
    return check_device_code(user, raw_code, client, Purpose.LOGIN, on_accept)


def check_second_factor(user: User, typed: str, client: Client) -> CodeCheck:
    """Re-authentication's second factor: the app's current code, or else a recovery code.

    Text that reads as a recovery code (16 letters and digits) is checked as one; anything
    else as a 6-digit code. Either way the code is used up, as at sign-in.
    """
    if recovery_codes.normalise(typed):
        return check_recovery_code(user, typed, client, signing_in=False)
    return check_device_code(user, typed, client, Purpose.REAUTH)


def check_device_code(
    user: User,
    raw_code: str,
    client: Client,
    purpose: Purpose,
    on_accept: Callable[[], None] | None = None,
) -> CodeCheck:
    """A code of the user's confirmed device; its time step is used up on success."""

    def attempt(digits: str, now: datetime) -> CodeOutcome | CodeCheck:
        device = TwoFactorDevice.objects.filter(user=user).first()
        if device is None:
            return CodeOutcome.NO_KEY
        key = unseal(user.pk, device.encrypted_key)
        refused = frozenset(int(step) for step in device.refused_future_steps)
        result = otp.verify(
            key, digits, now.timestamp(), device.last_used_step, refused_steps=refused
        )
        if result.verdict is otp.Verdict.WRONG:
            return wrong_code_with_hint(device, key, digits, now)
        if result.verdict is otp.Verdict.REPLAYED:
            return CodeOutcome.REPLAYED
        assert result.step is not None
        # Compare-and-set: only one request can move last_used_step past this step.
        won = TwoFactorDevice.objects.filter(pk=device.pk, last_used_step__lt=result.step).update(
            last_used_step=result.step, last_used_at=now
        )
        return CodeOutcome.ACCEPTED if won == 1 else CodeOutcome.REPLAYED

    return check_code(user, raw_code, client, purpose, attempt, on_accept=on_accept)


def check_recovery_code(
    user: User,
    typed: str,
    client: Client,
    on_accept: Callable[[], None] | None = None,
    *,
    signing_in: bool = True,
) -> CodeCheck:
    """A recovery code instead of a code; marks it used with a conditional update (one use only).

    ``signing_in`` is False when the code confirms a change (Disable 2FA, a new phone, new
    recovery codes): the record and the email then say so, not "used to sign in".
    """

    def attempt(canonical: str, now: datetime) -> CodeOutcome:
        unused = list(RecoveryCode.objects.filter(user=user, used_at__isnull=True))
        match = None
        for row in unused:  # compare with every code, no early exit
            if recovery_codes.matches(canonical, row.digest, row.salt):
                match = row
        if match is None:
            return CodeOutcome.WRONG_RECOVERY_CODE  # a used code is no longer in the list
        won = RecoveryCode.objects.filter(pk=match.pk, used_at__isnull=True).update(used_at=now)
        if won != 1:
            return CodeOutcome.RECOVERY_CODE_REPLAYED
        use = "sign in" if signing_in else "confirm a change"
        events.record(
            EventKind.RECOVERY_CODE_USED,
            subject=user,
            client=client,
            reason=f"to {use}; {len(unused) - 1} left",
        )
        return CodeOutcome.ACCEPTED

    purpose = Purpose.RECOVERY if signing_in else Purpose.REAUTH
    check = check_code(user, typed, client, purpose, attempt, read_recovery_code, on_accept)
    if check.accepted:
        what = "recovery_code_used" if signing_in else "recovery_code_used_for_change"
        notify.notify(user, what, client)
    return check


def wrong_code_with_hint(
    device: TwoFactorDevice | None,
    key: bytes,
    digits: str,
    now: datetime,
    outcome: CodeOutcome = CodeOutcome.WRONG_CODE,
) -> CodeCheck:
    """A wrong code, with a clock hint when it is right 2..10 steps away.

    A hinted future code is remembered on the device as refused, so a guesser who learns
    "this code is right in 3 minutes" cannot submit it then (the hint weakens nothing).
    """
    offset = otp.clock_offset(key, digits, now.timestamp())
    if offset is not None and offset > 0 and device is not None:
        current = otp.time_step(now.timestamp())
        kept = {int(s) for s in device.refused_future_steps if int(s) >= current - otp.WINDOW_STEPS}
        # Called under the user's guessing row lock: this read-modify-write cannot race.
        TwoFactorDevice.objects.filter(pk=device.pk).update(
            refused_future_steps=sorted(kept | {current + offset})
        )
    return CodeCheck(outcome, clock_offset_steps=offset)
