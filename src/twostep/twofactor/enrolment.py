"""Enable 2FA: a pending key shown to the user, confirmed by its first code.

The pending key stays the same across reloads and wrong codes (an app may already
have scanned it) until the user asks for a new one or it is older than ten minutes.
A confirmed device is replaced only when the new key's code is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import update_session_auth_hash
from django.db import transaction
from django.http import HttpRequest

from twostep import clock, otp
from twostep.accounts.sessions import sign_out_other_sessions
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.conf import get_settings
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice, new_pending_token
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.reauth import ReauthCheck, check_password_and_code
from twostep.twofactor.recovery import replace_codes
from twostep.twofactor.storage import seal, unseal
from twostep.twofactor.verification import Purpose, check_code, wrong_code_with_hint

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client

PENDING_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class KeyForDisplay:
    """What the Enable 2FA page shows: only ever for a pending, unconfirmed key."""

    uri: str
    grouped_key: str
    expires_at: datetime


def current_pending(user: User) -> PendingEnrolment | None:
    pending = PendingEnrolment.objects.filter(user=user).first()
    if pending is None or pending.created_at + PENDING_LIFETIME <= clock.utcnow():
        return None
    return pending


def discard_expired(user: User) -> None:
    """Delete a pending key older than its lifetime (S38); a live one is left alone."""
    PendingEnrolment.objects.filter(
        user=user, created_at__lte=clock.utcnow() - PENDING_LIFETIME
    ).delete()


def start_enrolment(user: User, *, keep: str | None = None) -> PendingEnrolment:
    """Keep the live pending key named ``keep`` (``pending_token``: the one this session
    holds), or make a new one.

    The comparison is made under the row lock: a key made by another session between this
    session's look and its lock is replaced, never handed over to this session as its own.
    """
    with transaction.atomic():
        pending = PendingEnrolment.objects.select_for_update().filter(user=user).first()
        live = pending is not None and pending.created_at + PENDING_LIFETIME > clock.utcnow()
        if pending is not None and live and keep is not None and pending_token(pending) == keep:
            return pending
        encrypted = seal(user, otp.new_key())
        pending, _ = PendingEnrolment.objects.update_or_create(
            user=user,
            defaults={
                "encrypted_key": encrypted,
                "created_at": clock.utcnow(),
                "token": new_pending_token(),
            },
        )
        return pending


def start_replacement(
    user: User, password: str, code: str, client: Client, *, keep: str | None = None
) -> tuple[ReauthCheck, PendingEnrolment | None]:
    """Set up a new phone while 2FA is on: the password and the current code, or a recovery
    code, before a new key is shown (S37; counted if wrong). Returns the pending key that
    the check unlocked (``keep`` if this session already holds it, else a new one), for the
    caller to bind to the session that passed it."""
    with transaction.atomic():
        reauth = check_password_and_code(user, password, code, client, "set up a new phone")
        pending = start_enrolment(user, keep=keep) if reauth.ok else None
    return reauth, pending


def pending_token(pending: PendingEnrolment) -> str:
    """Names one pending key: it changes when a new key is made ("Get a new key instead"),
    not when the key ring re-encrypts it. The session that may see and confirm the key
    keeps it (``key_holder``)."""
    return f"{pending.pk}:{pending.token}"


def key_for_display(user: User, pending: PendingEnrolment) -> KeyForDisplay:
    key = unseal(user.pk, pending.encrypted_key)
    base32 = otp.key_to_base32(key)
    return KeyForDisplay(
        uri=otp.key_uri(key, user.email, get_settings().issuer),
        grouped_key=otp.group_for_typing(base32),
        expires_at=pending.created_at + PENDING_LIFETIME,
    )


def confirm_enrolment(
    request: HttpRequest, user: User, shown: PendingEnrolment, raw_code: str, client: Client
) -> tuple[CodeCheck, list[str]]:
    """Turn 2FA on with the pending key ``shown`` when ``raw_code`` is its current code.

    ``shown`` is the key this session was shown; if another session replaced it meanwhile,
    nothing is confirmed (NO_KEY), so only a key the user saw can ever be bound.

    The accepted step is stored as used, so the enrolment code cannot log in again.
    Other sessions of the user are signed out; this one continues, rotated. Returns the new
    recovery codes (to be shown once) when 2FA is turned on; a new phone keeps the user's
    recovery codes and returns none.
    """
    codes: list[str] = []
    replaced: list[bool] = []

    def attempt(digits: str, now: datetime) -> CodeOutcome | CodeCheck:
        pending = PendingEnrolment.objects.select_for_update().filter(user=user).first()
        if pending is None or pending_token(pending) != pending_token(shown):
            return CodeOutcome.NO_KEY
        if pending.created_at + PENDING_LIFETIME <= now:
            pending.delete()  # an expired key is discarded, never confirmed (S38)
            return CodeOutcome.NO_KEY
        key = unseal(user.pk, pending.encrypted_key)
        result = otp.verify(key, digits, now.timestamp(), None)
        if result.verdict is not otp.Verdict.ACCEPTED or result.step is None:
            # The pending key protects nothing yet: a hint in either direction is safe.
            return wrong_code_with_hint(None, key, digits, now, CodeOutcome.WRONG_SETUP_CODE)
        _, created = TwoFactorDevice.objects.update_or_create(
            user=user,
            defaults={
                "encrypted_key": pending.encrypted_key,
                "confirmed_at": now,
                "last_used_step": result.step,
                "last_used_at": now,
                "refused_future_steps": [],
            },
        )
        if created:
            codes.extend(replace_codes(user))
        else:
            # A new phone: the recovery codes are not on the phone, so the user's saved set
            # keeps working (Manage 2FA makes a new set when wanted).
            replaced.append(True)
        pending.delete()
        sign_out_other_sessions(user, client, "2FA enabled", actor=user)
        events.record(
            EventKind.TWO_FACTOR_ENABLED,
            subject=user,
            actor=user,
            client=client,
            reason="new authenticator replaced the old one" if not created else "",
        )
        return CodeOutcome.ACCEPTED

    check = check_code(user, raw_code, client, Purpose.ENROLMENT, attempt)
    if check.accepted:
        update_session_auth_hash(request, user)
        notify.notify(user, "two_factor_replaced" if replaced else "two_factor_enabled", client)
    return check, codes
