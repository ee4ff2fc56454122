"""Enforce the office 2FA policy once a user's grace period is over."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from twostep import clock
from twostep.accounts.models import User
from twostep.administration.policy import requirement

# Paths a user who must enrol can still reach: the 2FA setup (and the password confirmation
# it may ask for), the language switcher, signing out, the assets.
ALLOWED_PREFIXES = (
    "/account/2fa/",
    "/account/confirm-password/",
    "/i18n/setlang/",
    "/logout/",
    "/static/",
)


class OfficePolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, User)
            and user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and requirement(user).overdue(clock.utcnow())
        ):
            messages.warning(
                request,
                _("Your office requires two-factor authentication. Enable 2FA to continue."),
            )
            return redirect(reverse("twofactor:manage"))
        return self.get_response(request)
