from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twostep.accounts.models import User, normalise_email
from twostep.twofactor.models import GuessingState, TwoFactorDevice


class Command(BaseCommand):
    help = "Show whether a user has 2FA, since when, and whether the code step is locked."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=normalise_email(options["email"])).first()
        if user is None:
            raise CommandError(f"No user {options['email']!r}.")
        device = TwoFactorDevice.objects.filter(user=user).first()
        if device is None:
            self.stdout.write(f"{user.email}: 2FA disabled")
        else:
            self.stdout.write(
                f"{user.email}: 2FA enabled since {device.confirmed_at:%Y-%m-%d %H:%M} UTC, "
                f"last code accepted {device.last_used_at:%Y-%m-%d %H:%M} UTC"
            )
        if GuessingState.objects.filter(user=user, locked_at__isnull=False).exists():
            self.stdout.write("The code step is locked after too many wrong codes.")
