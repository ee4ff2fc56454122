"""Recovery codes: a fresh set of ten when 2FA is turned on or on request, each usable once
instead of a code (checked by ``verification.check_recovery_code``, under the same limits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from twostep import clock, recovery_codes
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.twofactor.models import RecoveryCode, TwoFactorDevice
from twostep.twofactor.reauth import ReauthCheck, check_password_and_code

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


def replace_codes(user: User) -> list[str]:
    """Destroy the user's codes and store a new set; returns the codes (shown once)."""
    codes = recovery_codes.new_codes()
    now = clock.utcnow()
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=recovery_codes.hash_for_storage(c), created_at=now)
        for c in codes
    )
    return codes


def remaining(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def regenerate(
    user: User, password: str, code: str, client: Client
) -> tuple[ReauthCheck, list[str]]:
    """A new set on the user's request, after password and code; the old set dies."""
    with transaction.atomic():
        reauth = check_password_and_code(user, password, code, client, "new recovery codes")
        if not reauth.ok or not TwoFactorDevice.objects.filter(user=user).exists():
            return reauth, []
        codes = replace_codes(user)
        events.record(EventKind.RECOVERY_CODES_REPLACED, subject=user, actor=user, client=client)
    notify.notify(user, "recovery_codes_replaced", client)
    return reauth, codes
