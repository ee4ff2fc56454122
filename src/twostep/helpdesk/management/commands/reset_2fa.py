from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twostep.accounts.models import User, normalise_email
from twostep.http import Client
from twostep.twofactor.removal import helpdesk_reset


class Command(BaseCommand):
    help = (
        "Helpdesk reset from the command line: disable a user's 2FA after confirming their "
        "identity (docs/helpdesk.md). Recorded as an audit event; the user is emailed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--reason", required=True, help="Ticket reference and reason")
        parser.add_argument("--agent", help="Email of the helpdesk agent doing the reset")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["reason"].strip():
            raise CommandError("A reason (ticket reference) is required.")
        user = User.objects.filter(email=normalise_email(options["email"])).first()
        if user is None:
            raise CommandError(f"No user {options['email']!r}.")
        agent = None
        if options["agent"]:
            agent = User.objects.filter(email=normalise_email(options["agent"])).first()
            if agent is None or not agent.is_helpdesk_agent:
                raise CommandError(f"{options['agent']!r} is not a helpdesk agent.")
        if helpdesk_reset(agent, user, options["reason"], Client.command_line()):
            self.stdout.write(f"2FA disabled for {user.email}; the user has been emailed.")
        else:
            self.stdout.write(f"{user.email} had no 2FA; nothing changed.")
