"""Recovery codes: a fresh set of ten when 2FA is turned on or on request, each usable once
instead of a code at sign-in. Using one counts under the guessing limits like a code."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from twostep import clock, recovery_codes
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.twofactor.models import RecoveryCode, TwoFactorDevice
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.reauth import ReauthCheck, check_current_password
from twostep.twofactor.verification import Purpose, check_code, read_recovery_code

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


def replace_codes(user: User) -> list[str]:
    """Destroy the user's codes and store a new set; returns the codes (shown once)."""
    codes = recovery_codes.new_codes()
    salt = recovery_codes.new_salt()
    now = clock.utcnow()
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, salt=salt, digest=recovery_codes.digest(c, salt), created_at=now)
        for c in codes
    )
    return codes


def remaining(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def regenerate(user: User, password: str, client: Client) -> tuple[ReauthCheck, list[str]]:
    """A new set on the user's request, after the password; the old set dies."""
    with transaction.atomic():
        reauth = check_current_password(user, password, client, "new recovery codes")
        if not reauth.ok or not TwoFactorDevice.objects.filter(user=user).exists():
            return reauth, []
        codes = replace_codes(user)
        events.record(EventKind.RECOVERY_CODES_REPLACED, subject=user, actor=user, client=client)
    notify.notify(user, "recovery_codes_replaced", client)
    return reauth, codes


def check_recovery_code(user: User, typed: str, client: Client) -> CodeCheck:
    """A recovery code at sign-in; marks it used with a conditional update (one use only)."""

    def attempt(canonical: str, now: datetime) -> CodeOutcome:
        unused = list(RecoveryCode.objects.filter(user=user, used_at__isnull=True))
        match = None
        for row in unused:  # compare with every code, no early exit
            if hmac.compare_digest(row.digest, recovery_codes.digest(canonical, row.salt)):
                match = row
        if match is None:
            return CodeOutcome.WRONG_CODE
        won = RecoveryCode.objects.filter(pk=match.pk, used_at__isnull=True).update(used_at=now)
        if won != 1:
            return CodeOutcome.REPLAYED
        events.record(
            EventKind.RECOVERY_CODE_USED,
            subject=user,
            client=client,
            reason=f"{len(unused) - 1} left",
        )
        return CodeOutcome.ACCEPTED

    check = check_code(user, typed, client, Purpose.RECOVERY, attempt, read_recovery_code)
    if check.accepted:
        notify.notify(user, "recovery_code_used", client)
    return check
