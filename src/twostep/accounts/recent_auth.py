"""Recent authentication ("sudo mode") before actions that change how an account signs in.

A session counts as recently authenticated for TWOSTEP_REAUTH_SECONDS (default 15 minutes)
after the user last typed their password: at sign-in or on the Confirm your password page.
The clock does not slide with activity, so a session left open is asked again (S37, S45, S57).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from twostep import clock

PASSWORD_TYPED_AT = "twostep_password_typed_at"  # noqa: S105  (a session key name)

View = Callable[..., HttpResponse]


def mark(request: HttpRequest) -> None:
    """The user has just typed their password (and passed the code step where 2FA is on)."""
    request.session[PASSWORD_TYPED_AT] = clock.utcnow().timestamp()


def remember_password_typed(
    sender: object, request: HttpRequest, user: object, **kwargs: object
) -> None:
    """Receiver of ``user_logged_in``: signing in is a fresh authentication."""
    mark(request)


def is_recent(request: HttpRequest) -> bool:
    typed_at = request.session.get(PASSWORD_TYPED_AT)
    if not isinstance(typed_at, float):
        return False
    age = clock.utcnow().timestamp() - typed_at
    return 0 <= age <= settings.TWOSTEP_REAUTH_SECONDS


def confirm_password_url(next_url: str) -> str:
    return f"{reverse('accounts:confirm_password')}?{urlencode({'next': next_url})}"


def recent_auth_required(return_to: str | None = None) -> Callable[[View], View]:
    """Send a session whose password is not recent to Confirm your password first.

    A GET comes back to the same page. A POST cannot be replayed after the detour, so it
    comes back to ``return_to`` (a URL name; default: the same path) and is made again.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if is_recent(request):
                return view(request, *args, **kwargs)
            if request.method != "POST":  # GET, HEAD: nothing was asked to change
                return redirect(confirm_password_url(request.get_full_path()))
            messages.info(
                request,
                _("Nothing was changed. Confirm your password, then do it again."),
            )
            back = resolve_url(return_to) if return_to else request.path
            return redirect(confirm_password_url(back))

        return wrapper

    return decorator
