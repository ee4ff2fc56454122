"""Sign in (password, then code when 2FA is on), sign out, home."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_http_methods

from twostep import clock
from twostep.accounts import pending, recent_auth
from twostep.accounts.auth import signed_in_user
from twostep.accounts.forms import LoginForm
from twostep.accounts.login_flow import PasswordStep, code_step, password_step, recovery_step
from twostep.accounts.models import User
from twostep.accounts.redirects import safe_next
from twostep.administration.policy import requirement
from twostep.http import Client
from twostep.twofactor import limits
from twostep.twofactor.forms import CodeForm, PasswordConfirmForm, RecoveryCodeForm
from twostep.twofactor.gate import has_two_factor, needs_two_factor_page
from twostep.twofactor.models import TwoFactorDevice
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.reauth import check_current_password
from twostep.waits import wait_phrase


@login_required
def home(request: HttpRequest) -> HttpResponse:
    has_2fa = TwoFactorDevice.objects.filter(user=signed_in_user(request)).exists()
    return render(request, "accounts/home.html", {"has_2fa": has_2fa})


@require_http_methods(["GET", "HEAD"])
def session_changed(request: HttpRequest) -> HttpResponse:
    """Where a request lands whose session another tab changed meanwhile (see
    TwoTabsSessionMiddleware): says so, and offers the page again."""
    back = safe_next(request, request.GET.get("next"))
    return render(request, "accounts/session_changed.html", {"back": back})


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated:
        return redirect(safe_next(request, next_url))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step, wait = password_step(
            request,
            form.cleaned_data["email"],
            form.cleaned_data["password"],
            safe_next(request, next_url),
            Client.from_request(request),
        )
        if step is PasswordStep.CODE_NEEDED:
            return redirect("accounts:code")
        if step is PasswordStep.SIGNED_IN:
            return _after_sign_in(request, next_url)
        if step is PasswordStep.THROTTLED:
            form.add_error(
                None,
                _("Too many sign-in attempts. Wait %(wait)s and try again.")
                % {"wait": wait_phrase(wait)},
            )
        else:
            form.add_error(None, _("The email address or password is not right."))
    elif request.method == "GET" and pending.pending_user(request) is not None:
        return redirect("accounts:code")
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _after_sign_in(request: HttpRequest, next_url: str) -> HttpResponse:
    """Where a signed-in user goes: Enable 2FA first when their office requires it."""
    need = requirement(signed_in_user(request))
    if need.required:
        deadline = need.deadline
        date = formats.date_format(deadline, "j F Y") if deadline else ""
        if need.overdue(clock.utcnow()):
            text = _(
                "Your office has required two-factor authentication since %(date)s. "
                "Enable 2FA to continue."
            )
        else:
            text = _("Your office requires two-factor authentication by %(date)s. Enable 2FA now.")
        messages.info(request, text % {"date": date})
        return redirect("twofactor:manage")
    return redirect(safe_next(request, next_url))


@require_http_methods(["GET", "POST"])
def code_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")  # e.g. a second submit after the first one signed in
    user = pending.pending_user(request)
    if user is None:
        if request.method == "POST":
            messages.info(request, _("Your sign-in took too long. Enter your password again."))
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        next_url = pending.next_url(request)
        check = code_step(request, user, form.cleaned_data["code"], Client.from_request(request))
        if check.accepted:
            return _after_sign_in(request, next_url)
        form.add_error("code", check.message())
    elif request.method == "GET":
        _say_if_locked(request, user)
    return render(request, "accounts/code.html", {"form": form, "pending_email": user.email})


def _say_if_locked(request: HttpRequest, user: User) -> None:
    """The password was right: say at once that no code will be taken, not after one more."""
    if limits.is_locked(user):
        messages.error(request, CodeCheck(CodeOutcome.LOCKED).message())


def admin_login_redirect(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        if request.user.is_superuser and not has_two_factor(request.user):
            return needs_two_factor_page(request, _("The operators' administration"))
        raise PermissionDenied  # signed in, but not an operator: no redirect loop
    target = safe_next(request, request.GET.get("next") or "/django-admin/")
    return redirect(f"{reverse('accounts:login')}?{urlencode({'next': target})}")


@require_http_methods(["GET", "POST"])
def recovery_view(request: HttpRequest) -> HttpResponse:
    """ "Use a recovery code instead": the code step with a single-use recovery code."""
    user = pending.pending_user(request)
    if user is None:
        return redirect("accounts:login")
    form = RecoveryCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        next_url = pending.next_url(request)
        check = recovery_step(
            request, user, form.cleaned_data["code"], Client.from_request(request)
        )
        if check.accepted:
            messages.warning(
                request,
                _(
                    "You signed in with a recovery code. If you lost your phone, use Set up a "
                    "new phone under Manage 2FA, and make new recovery codes."
                ),
            )
            return redirect(safe_next(request, next_url))
        form.add_error("code", check.message(recovery_code=True))
    elif request.method == "GET":
        _say_if_locked(request, user)
    return render(request, "accounts/recovery.html", {"form": form, "pending_email": user.email})


@login_required
@require_http_methods(["GET", "POST"])
def confirm_password(request: HttpRequest) -> HttpResponse:
    """Confirm your password: makes the session's authentication recent again (sudo mode).

    A wrong password counts under the account's guessing limits, like on Disable 2FA.
    """
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            check = check_current_password(
                signed_in_user(request),
                form.cleaned_data["password"],
                Client.from_request(request),
                "confirm your password",
            )
        if check.ok:
            recent_auth.mark(request)
            return redirect(next_url)
        form.add_error("password", check.message())
    return render(
        request,
        "accounts/confirm_password.html",
        {"form": form, "next": next_url, "duration": wait_phrase(settings.TWOSTEP_REAUTH_SECONDS)},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """POST signs out; a GET (a typed or bookmarked /logout/) only offers the Log out button."""
    if request.method == "GET":
        if not request.user.is_authenticated:
            return redirect("accounts:login")
        return render(request, "accounts/logout.html")
    was_signed_in = request.user.is_authenticated
    logout(request)  # flushes the session, a pending login included
    if was_signed_in:
        messages.success(request, _("You are signed out."))
    return redirect("accounts:login")


def set_language(request: HttpRequest) -> HttpResponse:
    """The footer's language switcher: Django's set_language (a cookie; a GET only redirects),
    and for a signed-in user also their saved choice, so that their later sessions start in it."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if (
        request.method == "POST"
        and request.user.is_authenticated
        and language in dict(settings.LANGUAGES)
    ):
        user = signed_in_user(request)
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])
    return response
