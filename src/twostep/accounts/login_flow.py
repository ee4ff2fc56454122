"""The use cases of signing in: the password step and the code step."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib.auth import authenticate, login
from django.db import transaction
from django.http import HttpRequest

from twostep import clock
from twostep.accounts import pending, throttle
from twostep.accounts.models import User, normalise_email
from twostep.audit import events
from twostep.audit.models import EventKind
from twostep.twofactor.models import TwoFactorDevice
from twostep.twofactor.outcomes import CodeCheck
from twostep.twofactor.verification import check_login_code, check_recovery_code

if TYPE_CHECKING:
    from twostep.http import Client


class PasswordStep(enum.Enum):
    THROTTLED = "throttled"
    REFUSED = "refused"
    SIGNED_IN = "signed_in"
    CODE_NEEDED = "code_needed"


def password_step(
    request: HttpRequest, email: str, password: str, next_url: str, client: Client
) -> tuple[PasswordStep, int]:
    """Check email and password; returns the step reached and, when throttled, the wait.

    Unknown emails cost a hash too (Django's backend does it) and are throttled alike.
    """
    now = clock.utcnow()
    wait = throttle.seconds_to_wait(email, client.address, now)
    if wait > 0:
        return PasswordStep.THROTTLED, wait
    user = authenticate(request, username=email, password=password)  # the hash: no lock held
    # What follows is one write transaction (the session row, the event, the counters).
    with transaction.atomic():
        if user is None:
            throttle.record_failure(email, client.address, now)
            # Linked to the account when there is one, so that the user and the helpdesk see it.
            known = User.objects.filter(email=normalise_email(email)).first()
            events.record(EventKind.LOGIN_FAILED, subject=known, client=client, subject_label=email)
            return PasswordStep.REFUSED, 0
        if TwoFactorDevice.objects.filter(user=user).exists():
            pending.start(request, user, next_url)
            events.record(EventKind.PASSWORD_ACCEPTED, subject=user, client=client)
            request.session.save()  # here, not again at the end of the request
            return PasswordStep.CODE_NEEDED, 0
        login(request, user)
        events.record(EventKind.LOGIN_SUCCEEDED, subject=user, client=client)
        request.session.save()
        return PasswordStep.SIGNED_IN, 0


def code_step(request: HttpRequest, user: User, raw_code: str, client: Client) -> CodeCheck:
    """Verify the code of a pending login; on success sign in (the session key rotates)."""
    return check_login_code(user, raw_code, client, on_accept=_signer(request, user, client))


def recovery_step(request: HttpRequest, user: User, typed: str, client: Client) -> CodeCheck:
    """A single-use recovery code instead of the code; on success sign in."""
    return check_recovery_code(user, typed, client, on_accept=_signer(request, user, client))


def _signer(request: HttpRequest, user: User, client: Client) -> Callable[[], None]:
    """Signing in, run by the verifier inside the transaction that accepted the code."""

    def sign_in() -> None:
        pending.clear(request)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        events.record(EventKind.LOGIN_SUCCEEDED, subject=user, client=client)
        request.session.save()  # here, not again at the end of the request

    return sign_in
