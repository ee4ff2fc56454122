"""Administration > Manage users: an office admin's view of who has 2FA in their office."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from twostep import clock
from twostep.accounts.models import User
from twostep.accounts.recent_auth import recent_auth_required
from twostep.administration.forms import PolicyForm
from twostep.administration.policy import (
    Reminder,
    deadline_for,
    requirement,
    send_reminder,
    set_policy,
)
from twostep.http import Client
from twostep.twofactor.models import TwoFactorDevice
from twostep.twofactor.status import with_two_factor_status

PAGE_SIZE = 25
FILTERS = {"all", "on", "off"}
ORDER = ("full_name", "email")  # Manage users lists by name; index accounts_user_office_name


def _office_admin(request: HttpRequest) -> User:
    admin = request.user
    if not isinstance(admin, User) or not admin.is_office_admin or admin.office is None:
        raise PermissionDenied
    return admin


def _page_with_status(users: QuerySet[User], number: str | None) -> tuple[Page[int], list[User]]:
    """One page of ``users`` in name order: the page (for the pager) and its users, each
    annotated with its 2FA status.

    Two queries, so that the cost of a page does not grow with the office: the page's ids
    first (the (office, full_name, email) index; nothing is computed for the rows skipped),
    then the status subqueries for those 25 rows only. In one query the database may
    evaluate the subqueries for every row before the page's offset.
    """
    ids = users.order_by(*ORDER).values_list("pk", flat=True)
    page: Page[int] = Paginator(ids, PAGE_SIZE).get_page(number)
    on_page = User.objects.filter(pk__in=list(page.object_list))
    return page, list(with_two_factor_status(on_page).order_by(*ORDER))


@login_required
def manage_users(request: HttpRequest) -> HttpResponse:
    admin = _office_admin(request)
    assert admin.office is not None
    office_users = User.objects.filter(office=admin.office)
    total = office_users.count()
    with_2fa = TwoFactorDevice.objects.filter(user__office=admin.office).count()
    status = request.GET.get("twofa", "all")
    status = status if status in FILTERS else "all"
    listed = office_users
    if status == "on":
        listed = listed.filter(two_factor_device__isnull=False)
    elif status == "off":
        listed = listed.filter(two_factor_device__isnull=True)
    page, rows = _page_with_status(listed, request.GET.get("page"))
    office = admin.office
    for user in rows:
        has_2fa = getattr(user, "two_factor_since", None) is not None
        user.policy_deadline = (  # type: ignore[attr-defined]
            None if has_2fa else deadline_for(office, user.date_joined)
        )
    policy_form = PolicyForm(
        initial={
            "require_2fa": admin.office.require_2fa_since is not None,
            "grace_days": admin.office.grace_days,
        }
    )
    return render(
        request,
        "administration/manage_users.html",
        {
            "office": admin.office,
            "page": page,
            "rows": rows,
            "status": status,
            "total": total,
            "with_2fa": with_2fa,
            "policy_form": policy_form,
            "now": clock.utcnow(),
        },
    )


@login_required
@require_POST
@recent_auth_required("administration:manage_users")
def change_policy(request: HttpRequest) -> HttpResponse:
    admin = _office_admin(request)
    assert admin.office is not None
    form = PolicyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a grace period of 0 to 90 days."))
        return redirect("administration:manage_users")
    required = form.cleaned_data["require_2fa"]
    set_policy(
        admin, admin.office, required, form.cleaned_data["grace_days"], Client.from_request(request)
    )
    if required and requirement(admin).overdue(clock.utcnow()):
        # No grace left for the admin's own account: say so rather than just land them on
        # Manage 2FA as if something had gone wrong.
        messages.warning(
            request,
            _(
                "2FA is now required for everyone in %(office)s, you included: turn it on with "
                "Enable 2FA to get back to Manage users."
            )
            % {"office": admin.office.name},
        )
        return redirect("twofactor:manage")
    if required:
        messages.success(
            request,
            _("2FA is now required for everyone in %(office)s.") % {"office": admin.office.name},
        )
    else:
        messages.success(
            request, _("2FA is now optional in %(office)s.") % {"office": admin.office.name}
        )
    return redirect("administration:manage_users")


@login_required
@require_POST
def remind(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = _office_admin(request)
    user = get_object_or_404(User, pk=user_id, office_id=admin.office_id)
    sent = send_reminder(admin, user, Client.from_request(request))
    if sent is Reminder.SENT:
        messages.success(request, _("Reminder sent to %(email)s.") % {"email": user.email})
    elif sent is Reminder.RECENTLY_SENT:
        messages.info(
            request,
            _("A reminder went to %(email)s less than an hour ago, so none was sent now.")
            % {"email": user.email},
        )
    elif sent is Reminder.NOT_SENT:
        messages.error(
            request,
            _(
                "The reminder to %(email)s could not be sent: the mail server did not take it. "
                "Try again later, or tell your operator if it keeps happening."
            )
            % {"email": user.email},
        )
    else:
        messages.info(request, _("%(email)s needs no reminder.") % {"email": user.email})
    return redirect("administration:manage_users")
