"""The Django admin, for superusers only; it shows 2FA status, never a key."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from twostep.accounts.models import Office, User
from twostep.twofactor.gate import has_two_factor
from twostep.twofactor.status import with_two_factor_status


def _superusers_only(request: HttpRequest) -> bool:
    """Operators only, and only with 2FA on (S57); others are sent to admin_login_redirect."""
    user = request.user
    return bool(user.is_active and user.is_superuser and has_two_factor(user))


admin.site.has_permission = _superusers_only  # type: ignore[method-assign]
admin.site.site_header = "Twostep administration (operators)"


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin[Office]):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ["email", "full_name", "office", "role", "is_staff", "has_2fa", "last_login"]
    list_filter = ["role", "is_staff", "office"]
    search_fields = ["email", "full_name"]
    fields = [
        "email",
        "full_name",
        "office",
        "role",
        "is_active",
        "is_staff",
        "groups",
        "user_permissions",
        "last_login",
        "date_joined",
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return with_two_factor_status(super().get_queryset(request).select_related("office"))

    @admin.display(boolean=True, description="2FA")
    def has_2fa(self, obj: User) -> bool:
        return obj.two_factor_since is not None  # type: ignore[attr-defined]
