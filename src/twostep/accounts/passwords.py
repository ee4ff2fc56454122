"""Password change and reset, on Django's views and tokens, with audit events and emails.

Neither signs anyone in: after a reset the user signs in again, and the code step still
applies when 2FA is on. Both change the password hash, which signs out every other session.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.forms import Form
from django.http import HttpResponse
from django.urls import reverse_lazy

from twostep.accounts.auth import signed_in_user
from twostep.accounts.models import User
from twostep.audit import events, notify
from twostep.audit.models import EventKind
from twostep.http import Client


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

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


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Form) -> HttpResponse:
        email = str(form.cleaned_data.get("email", ""))
        events.record(
            EventKind.PASSWORD_RESET_REQUESTED,
            subject=None,
            client=Client.from_request(self.request),
            subject_label=email,
        )
        return super().form_valid(form)  # type: ignore[arg-type]


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
