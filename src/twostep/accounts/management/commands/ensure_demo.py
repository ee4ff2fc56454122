from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from twostep.accounts.management.commands.create_helpdesk_agent import make_agent
from twostep.accounts.models import Office, User

DEMO = [
    ("admin@demo.example", "Ada Admin", User.Role.OFFICE_ADMIN),
    ("member@demo.example", "Max Member", User.Role.MEMBER),
]
AGENT = ("helpdesk@demo.example", "Hal Helpdesk")


class Command(BaseCommand):
    help = "On first start (no users yet), create a demo office, its admin, a member and an agent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the portal runs")

    def handle(self, *args: Any, **options: Any) -> None:
        notes = settings.DATA_DIR / "demo-accounts.txt"
        if User.objects.exists():
            self.stdout.write(f"Existing data kept. Demo sign-ins (if created here): {notes}")
            return
        lines = []
        with transaction.atomic():
            office = Office.objects.create(name="Demo Office")
            for email, name, role in DEMO:
                password = secrets.token_urlsafe(12)
                User.objects.create_user(email, password, full_name=name, office=office, role=role)
                lines.append(f"{role.label:<15} {email:<24} {password}")
            password = secrets.token_urlsafe(12)
            make_agent(AGENT[0], AGENT[1], password)
            lines.append(f"{'Helpdesk agent':<15} {AGENT[0]:<24} {password}")
        text = f"Demo office 'Demo Office' created. Sign in at {options['url']} with:\n"
        text += "\n".join(lines) + "\n"
        text += "The helpdesk opens only once the agent has 2FA on (Manage 2FA > Enable 2FA).\n"
        notes.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(notes, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        self.stdout.write(text + f"(also written to {notes}, readable only by you)")
