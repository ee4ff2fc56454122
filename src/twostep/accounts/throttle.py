"""Limits on the password step, stored in the database (shared by all workers).

- per login name and client address: 10 failures in 15 minutes;
- per login name (known or not) over all addresses: 50 failures in an hour, except from an
  address the account signed in from in the last 30 days (so a stranger cannot lock the real
  user out of their usual connection);
- per client address: 30 failures in 15 minutes and 100 in an hour.
An attempt over a limit is not evaluated (no hash is computed) and not counted. Separate from
the code-step limits, so that someone without the password cannot lock anyone's code step.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db.models import QuerySet

from twostep.accounts.models import PasswordFailure, User, normalise_email
from twostep.audit.history import known_address
from twostep.sliding_windows import Caps, longest, seconds_until_allowed

NAME_AND_ADDRESS_CAPS = ((timedelta(minutes=15), 10),)
NAME_CAPS = ((timedelta(hours=1), 50),)
ADDRESS_CAPS = ((timedelta(minutes=15), 30), (timedelta(hours=1), 100))


def _wait(failures: QuerySet[PasswordFailure], now: datetime, caps: Caps) -> float:
    recent = failures.filter(at__gt=now - longest(caps)).order_by("-at")
    return seconds_until_allowed(recent.values_list("at", flat=True), now, caps)


def seconds_to_wait(login_name: str, address: str, now: datetime) -> int:
    name = normalise_email(login_name)[:254]
    by_name = PasswordFailure.objects.filter(login_name=name)
    waits = [_wait(by_name.filter(client_address=address), now, NAME_AND_ADDRESS_CAPS)]
    user_id = User.objects.filter(email=name).values_list("pk", flat=True).first()
    if not known_address(user_id, address, now):
        waits.append(_wait(by_name, now, NAME_CAPS))
    if address:
        waits.append(
            _wait(PasswordFailure.objects.filter(client_address=address), now, ADDRESS_CAPS)
        )
    return math.ceil(max(waits))


def record_failure(login_name: str, address: str, now: datetime) -> None:
    PasswordFailure.objects.create(
        login_name=normalise_email(login_name)[:254], client_address=address, at=now
    )
