"""Who has 2FA, for lists: one query for a whole page, never a key."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from twostep.twofactor.models import RecoveryCode, TwoFactorDevice

Q = TypeVar("Q", bound=QuerySet)


def with_two_factor_status(users: Q) -> Q:
    """Annotate ``two_factor_since``, ``two_factor_last_used`` (None = 2FA off) and
    ``recovery_codes_left``: status only, never a key or a code (S56)."""
    devices = TwoFactorDevice.objects.filter(user=OuterRef("pk"))
    unused = (
        RecoveryCode.objects.filter(user=OuterRef("pk"), used_at__isnull=True)
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return users.annotate(
        two_factor_since=Subquery(devices.values("confirmed_at")[:1]),
        two_factor_last_used=Subquery(devices.values("last_used_at")[:1]),
        recovery_codes_left=Coalesce(Subquery(unused), 0),
    )
