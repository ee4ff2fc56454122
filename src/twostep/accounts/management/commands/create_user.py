from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from twostep.accounts.management.commands._passwords import read_new_password
from twostep.accounts.models import Office, User, normalise_email


class Command(BaseCommand):
    help = (
        "Create a user in an office. The password is read from a prompt, or from the first "
        "line of stdin when it is piped (never from the command line)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", required=True, help="Full name")
        parser.add_argument("--office", required=True, help="Office name")
        parser.add_argument(
            "--role", choices=[r.value for r in User.Role], default=User.Role.MEMBER.value
        )
        parser.add_argument("--password-stdin", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalise_email(options["email"])
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not an email address.") from exc
        name = options["name"].strip()
        if not name or len(name) > User._meta.get_field("full_name").max_length:  # type: ignore[operator]
            raise CommandError("The full name must be 1 to 200 characters.")
        options["name"] = name
        office = Office.objects.filter(name=options["office"]).first()
        if office is None:
            raise CommandError(f"No office named {options['office']!r}.")
        if User.objects.filter(email=email).exists():
            raise CommandError(f"A user {email} exists already.")
        password = read_new_password(
            options["password_stdin"], User(email=email, full_name=options["name"])
        )
        User.objects.create_user(
            email, password, full_name=options["name"], office=office, role=options["role"]
        )
        self.stdout.write(f"Created {options['role']} {email} in {office.name!r}.")
