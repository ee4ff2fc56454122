"""Administration > Manage users: an office admin's view of who has 2FA in their office."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from twostep.accounts.models import User
from twostep.twofactor.models import TwoFactorDevice
from twostep.twofactor.status import with_two_factor_status

PAGE_SIZE = 25
FILTERS = {"all", "on", "off"}


@login_required
def manage_users(request: HttpRequest) -> HttpResponse:
    admin = request.user
    if not isinstance(admin, User) or not admin.is_office_admin or admin.office_id is None:
        raise PermissionDenied
    office_users = User.objects.filter(office_id=admin.office_id)
    total = office_users.count()
    with_2fa = TwoFactorDevice.objects.filter(user__office_id=admin.office_id).count()
    status = request.GET.get("twofa", "all")
    status = status if status in FILTERS else "all"
    listed = with_two_factor_status(office_users).order_by("full_name", "email")
    if status == "on":
        listed = listed.filter(two_factor_device__isnull=False)
    elif status == "off":
        listed = listed.filter(two_factor_device__isnull=True)
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "administration/manage_users.html",
        {
            "office": admin.office,
            "page": page,
            "status": status,
            "total": total,
            "with_2fa": with_2fa,
        },
    )
