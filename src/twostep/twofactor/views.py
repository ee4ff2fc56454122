"""Manage 2FA pages. Each view parses the request and calls one use case."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from twostep.accounts import recent_auth
from twostep.accounts.auth import signed_in_user
from twostep.accounts.models import User
from twostep.accounts.recent_auth import recent_auth_required
from twostep.http import Client
from twostep.twofactor import enrolment, key_holder, recovery
from twostep.twofactor.forms import CodeForm, PasswordAndCodeForm
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice
from twostep.twofactor.qr import qr_svg
from twostep.twofactor.removal import DisableOutcome, disable_with_password

NEW_CODES_KEY = "twostep_new_recovery_codes"
CODES_SHOWN_KEY = "twostep_recovery_codes_were_shown"


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    device = TwoFactorDevice.objects.filter(user=user).first()
    return render(
        request,
        "twofactor/manage.html",
        {"device": device, "codes_left": recovery.remaining(user) if device else 0},
    )


def _ask_for_password_and_code(request: HttpRequest) -> HttpResponse:
    messages.error(
        request,
        _("Enter your password and the code from your app to set up a new phone."),
    )
    return redirect("twofactor:manage")


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Enable 2FA (or a new phone): keep or make the pending key, then show it."""
    if request.method == "GET":
        return redirect("twofactor:manage")  # the button is a form on Manage 2FA
    user = signed_in_user(request)
    fresh_key = request.POST.get("fresh") == "1"
    current = enrolment.current_pending(user)
    holds_current = key_holder.holds(request, current)
    # Only the key this session holds is ever kept; any other is replaced, never handed over.
    keep = enrolment.pending_token(current) if current and holds_current and not fresh_key else None
    if not TwoFactorDevice.objects.filter(user=user).exists():
        key_holder.hold(request, enrolment.start_enrolment(user, keep=keep))
        return redirect("twofactor:setup")
    if fresh_key and holds_current:
        # "Get a new key instead" on the new-phone page: this session already proved it.
        key_holder.hold(request, enrolment.start_enrolment(user), keep_start=True)
        return redirect("twofactor:setup")
    form = PasswordAndCodeForm(request.POST)
    if not form.is_valid():
        return _ask_for_password_and_code(request)
    reauth, pending = enrolment.start_replacement(
        user,
        form.cleaned_data["password"],
        form.cleaned_data["code"],
        Client.from_request(request),
        keep=keep,
    )
    if not reauth.ok:
        messages.error(request, reauth.message())
        return redirect("twofactor:manage")
    recent_auth.mark(request)
    if pending is not None:
        key_holder.hold(request, pending)
    return redirect("twofactor:setup")


def _this_sessions_pending_key(
    request: HttpRequest, user: User
) -> tuple[PendingEnrolment, bool] | HttpResponse:
    """The live pending key this session may see and confirm, and whether it replaces a
    confirmed one; or, when there is none, the way back to Manage 2FA with the reason."""
    pending = enrolment.current_pending(user)
    replacing = TwoFactorDevice.objects.filter(user=user).exists()
    if pending is None:
        return _no_live_pending_key(request, user, replacing)
    if not key_holder.holds(request, pending):
        return _not_this_sessions_key(request, pending, replacing)
    return pending, replacing


@login_required
@recent_auth_required()
def setup(request: HttpRequest) -> HttpResponse:
    """Step 1: the QR code and the key. Reloading shows the same key."""
    user = signed_in_user(request)
    found = _this_sessions_pending_key(request, user)
    if isinstance(found, HttpResponse):
        return found
    pending, replacing = found
    shown = enrolment.key_for_display(user, pending)
    return render(
        request,
        "twofactor/setup.html",
        {"shown": shown, "qr_svg": qr_svg(shown.uri), "replacing": replacing},
    )


@login_required
@require_http_methods(["GET", "POST"])
@recent_auth_required()
def confirm(request: HttpRequest) -> HttpResponse:
    """Step 2: the first code from the app turns 2FA on."""
    user = signed_in_user(request)
    found = _this_sessions_pending_key(request, user)
    if isinstance(found, HttpResponse):
        return found
    pending, replacing = found
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check, codes = enrolment.confirm_enrolment(
            request, user, pending, form.cleaned_data["code"], Client.from_request(request)
        )
        if check.accepted:
            key_holder.release(request)
            request.session["twostep_just_enabled"] = "new phone" if replacing else "on"
            request.session[NEW_CODES_KEY] = codes
            return redirect("twofactor:enabled")
        form.add_error("code", check.message())
    return render(request, "twofactor/confirm.html", {"form": form, "replacing": replacing})


def _no_live_pending_key(request: HttpRequest, user: User, replacing: bool) -> HttpResponse:
    """Back to Manage 2FA, saying why only when a setup really ran out.

    After 2FA was turned on the key is gone on purpose: Back in the browser shows Manage 2FA
    without a message about an expired setup that never expired.
    """
    expired = PendingEnrolment.objects.filter(user=user).exists()
    if request.method == "POST":
        enrolment.discard_expired(user)
    if expired and replacing:
        messages.info(
            request,
            _("This setup of a new phone has expired. Start again with Set up a new phone."),
        )
    elif expired:
        messages.info(request, _("This 2FA setup has expired. Start again with Enable 2FA."))
    elif not replacing:
        messages.info(request, _("Start with Enable 2FA to get a key for your authenticator app."))
    return redirect("twofactor:manage")


def _not_this_sessions_key(
    request: HttpRequest, pending: PendingEnrolment, replacing: bool
) -> HttpResponse:
    """The live pending key belongs to another session, or this session's hold ran out."""
    if not key_holder.held_another_key(request, pending):
        # Never held here: an earlier setup of this user whose session ended (signed out,
        # timed out) or one running in another window. Its key is not shown here.
        messages.info(request, _setup_elsewhere_message(replacing))
    elif replacing:
        messages.warning(
            request,
            _(
                "Set up a new phone was started again in another browser or window, so the "
                "key shown here no longer works. Delete that entry from your authenticator "
                "app and start again with Set up a new phone. If that was not you, change "
                "your password now."
            ),
        )
    else:
        messages.info(
            request,
            _(
                "Enable 2FA was started again in another browser or window, so the key shown "
                "here no longer works. Press Enable 2FA for a new key, and delete the old "
                "entry from your authenticator app."
            ),
        )
    return redirect("twofactor:manage")


def _setup_elsewhere_message(replacing: bool) -> str:
    if replacing:
        return _(
            "A setup of a new phone that ended (you were signed out) or that runs in another "
            "browser or window is not shown here. Start again with Set up a new phone, and "
            "delete any entry you scanned from that setup from your authenticator app."
        )
    return _(
        "A 2FA setup that ended (you were signed out) or that runs in another browser or "
        "window is not shown here. Press Enable 2FA for a key of your own, and delete any "
        "entry you scanned from that setup from your authenticator app."
    )


@login_required
def enabled(request: HttpRequest) -> HttpResponse:
    """Step 3: confirmation with Close."""
    just = request.session.pop("twostep_just_enabled", None)
    if not just:
        return _back_to_manage_after_codes(request)
    new_phone = just == "new phone"
    user = signed_in_user(request)
    return render(
        request,
        "twofactor/enabled.html",
        {
            "codes": _pop_new_codes(request),
            "new_phone": new_phone,
            "codes_left": recovery.remaining(user) if new_phone else 0,
        },
    )


def _back_to_manage_after_codes(request: HttpRequest) -> HttpResponse:
    """A reload (or Back) of a page that showed recovery codes: they are gone, say so (only
    if this session was really shown some: a new phone shows none)."""
    if request.session.pop(CODES_SHOWN_KEY, False):
        messages.info(
            request,
            _(
                "Recovery codes are shown only once, so they cannot be shown again. If you did "
                "not save them, make a new set on Manage 2FA with Make new recovery codes."
            ),
        )
    return redirect("twofactor:manage")


def _pop_new_codes(request: HttpRequest) -> list[str]:
    """New recovery codes are shown once: taken out of the session as they are shown."""
    codes = request.session.pop(NEW_CODES_KEY, [])
    shown = [str(c) for c in codes] if isinstance(codes, list) else []
    if shown:
        request.session[CODES_SHOWN_KEY] = True
    return shown


@login_required
@require_POST
def new_recovery_codes(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = PasswordAndCodeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("Enter your password and the code from your app to make new recovery codes."),
        )
        return redirect("twofactor:manage")
    reauth, codes = recovery.regenerate(
        user, form.cleaned_data["password"], form.cleaned_data["code"], Client.from_request(request)
    )
    if not reauth.ok:
        messages.error(request, reauth.message())
        return redirect("twofactor:manage")
    recent_auth.mark(request)
    if codes:
        request.session[NEW_CODES_KEY] = codes
        return redirect("twofactor:show_recovery_codes")
    return redirect("twofactor:manage")


@login_required
def show_recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = _pop_new_codes(request)
    if not codes:
        return _back_to_manage_after_codes(request)
    return render(request, "twofactor/recovery_codes.html", {"codes": codes})


@login_required
@require_http_methods(["GET", "POST"])
def disable(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if not TwoFactorDevice.objects.filter(user=user).exists():
        return redirect("twofactor:manage")
    form = PasswordAndCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome, reauth = disable_with_password(
            user,
            form.cleaned_data["password"],
            form.cleaned_data["code"],
            Client.from_request(request),
        )
        if outcome is DisableOutcome.DISABLED:
            update_session_auth_hash(request, user)
            recent_auth.mark(request)
            messages.success(request, _("Two-factor authentication is now off."))
            return redirect("twofactor:manage")
        if outcome is DisableOutcome.NOT_ENABLED:
            return redirect("twofactor:manage")
        form.add_error("code" if reauth.code_check else "password", reauth.message())
    return render(request, "twofactor/disable.html", {"form": form})
