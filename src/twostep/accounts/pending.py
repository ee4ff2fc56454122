"""The pending login: password accepted, code not yet. The user is NOT logged in.

Stored in the session and bound to the user's password hash and security stamp, so a
password change or a 2FA reset voids it; it expires after five minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from twostep import clock

if TYPE_CHECKING:
    from twostep.accounts.models import User

SESSION_KEY = "twostep_pending_login"
LIFETIME_SECONDS = 5 * 60


def start(request: HttpRequest, user: User, next_url: str) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "user_id": user.pk,
        "since": clock.utcnow().timestamp(),
        "auth_hash": user.get_session_auth_hash(),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> User | None:
    """The user who passed the password step in this session, if still valid."""
    from twostep.accounts.models import User

    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    if clock.utcnow().timestamp() - float(data.get("since", 0)) > LIFETIME_SECONDS:
        clear(request)
        return None
    user_id = data.get("user_id")
    if not isinstance(user_id, int):
        clear(request)
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(
        user.get_session_auth_hash(), str(data.get("auth_hash", ""))
    ):
        clear(request)
        return None
    return user


def next_url(request: HttpRequest) -> str:
    data = request.session.get(SESSION_KEY)
    return str(data.get("next", "")) if isinstance(data, dict) else ""


def clear(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
