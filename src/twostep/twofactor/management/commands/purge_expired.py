from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from twostep import clock
from twostep.accounts.models import PasswordFailure
from twostep.twofactor.enrolment import PENDING_LIFETIME
from twostep.twofactor.limits import LOCK_WINDOW
from twostep.twofactor.models import CodeFailure, PendingEnrolment


class Command(BaseCommand):
    help = (
        "Delete what has expired: abandoned pending 2FA keys (older than 10 minutes) and "
        "failure records older than every limit that reads them. Run it from cron, e.g. hourly."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = clock.utcnow()
        keys, _ = PendingEnrolment.objects.filter(created_at__lte=now - PENDING_LIFETIME).delete()
        codes, _ = CodeFailure.objects.filter(at__lt=now - LOCK_WINDOW).delete()
        passwords, _ = PasswordFailure.objects.filter(at__lt=now - timedelta(days=1)).delete()
        self.stdout.write(
            f"Deleted {keys} expired pending keys, {codes} old code failures, "
            f"{passwords} old password failures."
        )
