"""A user's own "Recent security activity"."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from twostep.accounts.auth import signed_in_user
from twostep.audit.models import SecurityEvent

SHOWN = 50


@login_required
def my_activity(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    shown = SecurityEvent.objects.filter(subject=user).select_related("actor")[:SHOWN]
    return render(request, "audit/my_activity.html", {"events": shown})
