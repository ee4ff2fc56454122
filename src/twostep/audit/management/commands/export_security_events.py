from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twostep.audit.models import SecurityEvent


class Command(BaseCommand):
    help = "Write security events as JSON lines (oldest first) for a SIEM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO 8601 time, e.g. 2026-12-01T00:00:00+00:00")

    def handle(self, *args: Any, **options: Any) -> None:
        events = SecurityEvent.objects.order_by("at", "id")
        if options["since"]:
            try:
                since = datetime.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError("--since must be an ISO 8601 time.") from exc
            if since.tzinfo is None:
                raise CommandError("--since needs a time zone, e.g. +00:00.")
            events = events.filter(at__gte=since)
        for event in events.iterator():
            self.stdout.write(
                json.dumps(
                    {
                        "id": event.pk,
                        "at": event.at.isoformat(),
                        "kind": event.kind,
                        "actor": event.actor_label,
                        "actor_id": event.actor_id,
                        "subject": event.subject_label,
                        "subject_id": event.subject_id,
                        "client_address": event.client_address,
                        "user_agent": event.user_agent,
                        "reason": event.reason,
                    },
                    ensure_ascii=False,
                )
            )
