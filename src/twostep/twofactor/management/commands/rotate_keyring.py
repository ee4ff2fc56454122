from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from twostep.audit import events
from twostep.audit.models import EventKind
from twostep.http import Client
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice
from twostep.twofactor.storage import context_for, key_ring


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored 2FA key with the first key of TWOSTEP_KEY_RING. "
        "Put the new key first, keep the old ones after it, run this, then drop the old ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="Only print a fresh key ring entry to put first, and exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ring = key_ring()
        if options["new_key"]:
            from secrets import token_hex

            self.stdout.write(ring.generate_entry("k" + token_hex(4)))
            return
        count = 0
        for model in (TwoFactorDevice, PendingEnrolment):
            for pk in model.objects.values_list("pk", flat=True):
                with transaction.atomic():
                    row = model.objects.select_for_update().get(pk=pk)
                    if ring.needs_rotation(row.encrypted_key):
                        row.encrypted_key = ring.rotate(row.encrypted_key, context_for(row.user_id))
                        row.save(update_fields=["encrypted_key"])
                        count += 1
        events.record(
            EventKind.KEYS_ROTATED,
            subject=None,
            client=Client.command_line(),
            reason=f"{count} keys re-encrypted with key {ring.primary_id}",
        )
        self.stdout.write(f"Re-encrypted {count} keys with key {ring.primary_id}.")
