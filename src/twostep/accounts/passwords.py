"""Password change and reset, on Django's views and tokens, with audit events and emails.

Neither signs anyone in: after a reset the user signs in again, and the code step still
applies when 2FA is on. Both change the password hash, which signs out every other session.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils import translation

from twostep import clock
from twostep.accounts.auth import signed_in_user
from twostep.accounts.models import User, normalise_email
from twostep.audit import events, notify
from twostep.audit.models import EventKind, SecurityEvent
from twostep.conf import get_settings
from twostep.http import Client
from twostep.twofactor.reauth import check_current_password


class LimitedPasswordChangeForm(PasswordChangeForm):
    """Django's form, with the current password checked under the guessing limits."""

    def __init__(self, user: User, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.client = client

    def clean_old_password(self) -> str:
        old = str(self.cleaned_data.get("old_password", ""))
        with transaction.atomic():
            reauth = check_current_password(self.user, old, self.client, "change password")
        if not reauth.ok:
            raise ValidationError(reauth.message(), code="password_incorrect")
        return old


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")
    form_class = LimitedPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["client"] = Client.from_request(self.request)
        return kwargs

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session, rotated
        user = signed_in_user(self.request)
        client = Client.from_request(self.request)
        events.record(EventKind.PASSWORD_CHANGED, subject=user, actor=user, client=client)
        events.record(
            EventKind.SESSIONS_REVOKED,
            subject=user,
            actor=user,
            client=client,
            reason="password changed",
        )
        notify.notify(user, "password_changed", client)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form; the email is written in the account's language."""

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        context = kwargs.get("context") or args[2]
        user = context["user"]
        with translation.override(notify.email_language(user)):
            super().send_mail(*args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Form) -> HttpResponse:
        email = normalise_email(str(form.cleaned_data.get("email", "")))
        client = Client.from_request(self.request)
        if reset_requests_exceeded(email, client.address):
            # The same answer as always (no enumeration), but no more mail is sent.
            return HttpResponseRedirect(self.get_success_url())
        events.record(
            EventKind.PASSWORD_RESET_REQUESTED, subject=None, client=client, subject_label=email
        )
        self.extra_email_context = {"issuer": get_settings().issuer}  # "[Twostep] ..." subject
        return super().form_valid(form)  # type: ignore[arg-type]


RESET_PER_EMAIL_PER_HOUR = 3
RESET_PER_ADDRESS_PER_HOUR = 10


def reset_requests_exceeded(email: str, address: str) -> bool:
    """At most 3 reset emails an hour per address asked for, 10 per client address."""
    recent = SecurityEvent.objects.filter(
        kind=EventKind.PASSWORD_RESET_REQUESTED, at__gt=clock.utcnow() - timedelta(hours=1)
    )
    if recent.filter(subject_label=email).count() >= RESET_PER_EMAIL_PER_HOUR:
        return True
    return bool(address) and recent.filter(client_address=address).count() >= (
        RESET_PER_ADDRESS_PER_HOUR
    )


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False  # the user signs in again, code step included

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        assert isinstance(user, User)
        client = Client.from_request(self.request)
        events.record(EventKind.PASSWORD_RESET, subject=user, actor=user, client=client)
        events.record(
            EventKind.SESSIONS_REVOKED, subject=user, client=client, reason="password reset"
        )
        notify.notify(user, "password_changed", client, reason="reset")
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
