"""Questions the limits ask of the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from twostep.audit.models import EventKind, SecurityEvent

KNOWN_ADDRESS_DAYS = 30


def known_address(user_id: int | None, address: str, now: datetime) -> bool:
    """Has this account signed in fully from this client address in the last 30 days?

    Used so that a shared office address, or a stranger hammering an account from elsewhere,
    does not lock the real user out on their usual connection (the per-account caps still
    hold there).
    """
    if user_id is None or not address:
        return False
    return SecurityEvent.objects.filter(
        subject_id=user_id,
        kind=EventKind.LOGIN_SUCCEEDED,
        client_address=address,
        at__gt=now - timedelta(days=KNOWN_ADDRESS_DAYS),
    ).exists()
