"""Who has 2FA, for lists: one query for a whole page, never a key."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import OuterRef, QuerySet, Subquery

from twostep.twofactor.models import TwoFactorDevice

Q = TypeVar("Q", bound=QuerySet)


def with_two_factor_status(users: Q) -> Q:
    """Annotate ``two_factor_since`` and ``two_factor_last_used`` (None = 2FA off)."""
    devices = TwoFactorDevice.objects.filter(user=OuterRef("pk"))
    return users.annotate(
        two_factor_since=Subquery(devices.values("confirmed_at")[:1]),
        two_factor_last_used=Subquery(devices.values("last_used_at")[:1]),
    )
