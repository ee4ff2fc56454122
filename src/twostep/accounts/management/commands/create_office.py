from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twostep.accounts.models import Office


class Command(BaseCommand):
    help = "Create an office."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > Office._meta.get_field("name").max_length:  # type: ignore[operator]
            raise CommandError("The office name must be 1 to 200 characters.")
        if Office.objects.filter(name=name).exists():
            raise CommandError(f"An office named {name!r} exists already.")
        Office.objects.create(name=name)
        self.stdout.write(f"Created office {name!r}.")
