"""Helpdesk: find a user, confirm their identity by the checklist, then Disable 2FA."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from twostep.accounts.models import User, normalise_email
from twostep.accounts.recent_auth import recent_auth_required
from twostep.audit.models import SecurityEvent
from twostep.helpdesk.forms import FindUserForm, HelpdeskResetForm
from twostep.http import Client
from twostep.twofactor.gate import has_two_factor, needs_two_factor_page
from twostep.twofactor.models import GuessingState, TwoFactorDevice
from twostep.twofactor.removal import helpdesk_reset

View = Callable[..., HttpResponse]


def agent_required(view: View) -> View:
    """A helpdesk agent, with 2FA on their own account (S57)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (isinstance(request.user, User) and request.user.is_helpdesk_agent):
            raise PermissionDenied
        if not has_two_factor(request.user):
            return needs_two_factor_page(request, _("The helpdesk"))
        return view(request, *args, **kwargs)

    return wrapper


@agent_required
@require_http_methods(["GET", "POST"])
def find_user(request: HttpRequest) -> HttpResponse:
    """A POST, so that looked-up addresses stay out of URLs and access logs."""
    form = FindUserForm(request.POST or None)
    not_found = False
    if form.is_valid():
        user = User.objects.filter(email=normalise_email(form.cleaned_data["email"])).first()
        if user is not None:
            return redirect("helpdesk:user", user_id=user.pk)
        not_found = True
    return render(request, "helpdesk/find.html", {"form": form, "not_found": not_found})


@agent_required
@require_http_methods(["GET", "POST"])
@recent_auth_required()
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    subject = get_object_or_404(User.objects.select_related("office"), pk=user_id)
    if subject.pk == request.user.pk or subject.is_staff or subject.is_superuser:
        # Nobody resets their own 2FA here, and operator and agent accounts are reset by an
        # operator on the command line (reset_2fa), never by another agent.
        return render(
            request,
            "helpdesk/not_here.html",
            {"subject": subject, "own": subject.pk == request.user.pk},
            status=403,
        )
    form = HelpdeskResetForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            assert isinstance(request.user, User)
            done = helpdesk_reset(
                request.user, subject, form.cleaned_data["reason"], Client.from_request(request)
            )
            if done:
                messages.success(
                    request,
                    _("2FA is now off for %(email)s. They have been told by email.")
                    % {"email": subject.email},
                )
            else:
                messages.info(
                    request, _("%(email)s had no 2FA to reset.") % {"email": subject.email}
                )
            return redirect("helpdesk:user", user_id=subject.pk)
        status = 400
    context = {
        "subject": subject,
        "form": form,
        "device": TwoFactorDevice.objects.filter(user=subject).first(),
        "locked": GuessingState.objects.filter(user=subject, locked_at__isnull=False).exists(),
        "office_admins": (
            User.objects.filter(office=subject.office, role=User.Role.OFFICE_ADMIN)
            if subject.office is not None
            else User.objects.none()
        ),
        "events": SecurityEvent.objects.filter(subject=subject)[:15],
    }
    return render(request, "helpdesk/user.html", context, status=status)
