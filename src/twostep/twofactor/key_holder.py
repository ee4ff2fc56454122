"""Which session may see and confirm a pending key.

A pending key is shown only to the session that started it (the first Enable 2FA) or that
typed the password and the code for a new phone; the tabs of one browser share that session,
so a reload or a second tab still shows the same key (C12). Another session of the same
user, one left open on a shared computer say, never reads the key being scanned and cannot
bind its own app with it.

The hold lasts as long as a pending key does (``enrolment.PENDING_LIFETIME``) from the moment
it was granted. For a new phone that moment is the password and code: "Get a new key
instead" makes a new key for the holder but does not extend the hold, so one check of the
password and code cannot be stretched over hours.
"""

from __future__ import annotations

from django.http import HttpRequest

from twostep import clock
from twostep.twofactor.enrolment import PENDING_LIFETIME, pending_token
from twostep.twofactor.models import PendingEnrolment

SESSION_KEY = "twostep_pending_key_holder"


def hold(request: HttpRequest, pending: PendingEnrolment, *, keep_start: bool = False) -> None:
    """Let this session see and confirm ``pending``; ``keep_start`` keeps the hold's start."""
    since = granted_at(request) if keep_start else None
    request.session[SESSION_KEY] = {
        "key": pending_token(pending),
        "since": since if since is not None else clock.utcnow().timestamp(),
    }


def holds(request: HttpRequest, pending: PendingEnrolment | None) -> bool:
    """Whether this session holds ``pending`` and its hold has not run out."""
    data = request.session.get(SESSION_KEY)
    if pending is None or not isinstance(data, dict) or data.get("key") != pending_token(pending):
        return False
    since = granted_at(request)
    age = clock.utcnow().timestamp() - (since if since is not None else 0.0)
    return 0 <= age < PENDING_LIFETIME.total_seconds()


def held_another_key(request: HttpRequest, pending: PendingEnrolment) -> bool:
    """Whether this session held a pending key that has since been replaced (elsewhere)."""
    data = request.session.get(SESSION_KEY)
    return isinstance(data, dict) and data.get("key") != pending_token(pending)


def granted_at(request: HttpRequest) -> float | None:
    data = request.session.get(SESSION_KEY)
    since = data.get("since") if isinstance(data, dict) else None
    return float(since) if isinstance(since, int | float) else None


def release(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
