"""Limits on the password step, stored in the database (shared by all workers).

Per login name (known or not): 10 failures in 15 minutes. Per client address: 30 failures in
15 minutes and 100 in an hour. An attempt over a limit is not evaluated (no hash is computed)
and not counted. Separate from the code-step limits, so that someone without the password
cannot lock anyone's code step.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from twostep.accounts.models import PasswordFailure, normalise_email
from twostep.sliding_windows import longest, seconds_until_allowed

NAME_CAPS = ((timedelta(minutes=15), 10),)
ADDRESS_CAPS = ((timedelta(minutes=15), 30), (timedelta(hours=1), 100))


def seconds_to_wait(login_name: str, address: str, now: datetime) -> int:
    name = normalise_email(login_name)[:254]
    by_name = PasswordFailure.objects.filter(
        login_name=name, at__gt=now - longest(NAME_CAPS)
    ).order_by("-at")
    wait = seconds_until_allowed(by_name.values_list("at", flat=True), now, NAME_CAPS)
    if address:
        by_address = PasswordFailure.objects.filter(
            client_address=address, at__gt=now - longest(ADDRESS_CAPS)
        ).order_by("-at")
        wait = max(
            wait, seconds_until_allowed(by_address.values_list("at", flat=True), now, ADDRESS_CAPS)
        )
    return math.ceil(wait)


def record_failure(login_name: str, address: str, now: datetime) -> None:
    PasswordFailure.objects.create(
        login_name=normalise_email(login_name)[:254], client_address=address, at=now
    )
