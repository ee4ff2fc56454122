"""Areas that act on other people's accounts need 2FA on the account that opens them.

The helpdesk (which can turn off anyone's 2FA) and the operators' Django admin are closed to
an account without 2FA, with a page that says how to turn it on (S57; OWASP MFA cheat sheet:
require MFA for administrative users).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from twostep.twofactor.models import TwoFactorDevice


def has_two_factor(user: object) -> bool:
    pk = getattr(user, "pk", None)
    return pk is not None and TwoFactorDevice.objects.filter(user_id=pk).exists()


def needs_two_factor_page(request: HttpRequest, area: str) -> HttpResponse:
    """403 with the way out: Manage 2FA, Enable 2FA. ``area`` is already translated."""
    return render(request, "twofactor/needs_2fa.html", {"area": area}, status=403)
