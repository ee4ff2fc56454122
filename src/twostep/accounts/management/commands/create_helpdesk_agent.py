from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser

from twostep.accounts.management.commands._passwords import read_new_password
from twostep.accounts.models import User, normalise_email


def make_agent(email: str, name: str, password: str) -> User:
    agent = User.objects.create_user(email, password, full_name=name, is_staff=True)
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    return agent


class Command(BaseCommand):
    help = "Create a helpdesk agent (staff, not in an office). Password as for create_user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", required=True)
        parser.add_argument("--password-stdin", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalise_email(options["email"])
        if not options["name"].strip() or len(options["name"]) > 200:
            raise CommandError("The full name must be 1 to 200 characters.")
        if User.objects.filter(email=email).exists():
            raise CommandError(f"A user {email} exists already.")
        candidate = User(email=email, full_name=options["name"])
        password = read_new_password(options["password_stdin"], candidate)
        make_agent(email, options["name"], password)
        self.stdout.write(
            f"Created helpdesk agent {email}. The helpdesk opens once the agent has signed in"
            " and turned on 2FA (Manage 2FA > Enable 2FA)."
        )
