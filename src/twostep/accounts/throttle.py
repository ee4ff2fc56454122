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

NAME_CAPS = ((timedelta(minutes=15), 10),)
ADDRESS_CAPS = ((timedelta(minutes=15), 30), (timedelta(hours=1), 100))


def _wait(times: list[datetime], now: datetime, caps: tuple[tuple[timedelta, int], ...]) -> float:
    waits = [0.0]
    for window, cap in caps:
        recent = [at for at in times if at > now - window]
        if len(recent) >= cap:
            waits.append((recent[cap - 1] + window - now).total_seconds())
    return max(waits)


def seconds_to_wait(login_name: str, address: str, now: datetime) -> int:
    name = normalise_email(login_name)[:254]
    longest = max(w for w, _ in NAME_CAPS)
    by_name = list(
        PasswordFailure.objects.filter(login_name=name, at__gt=now - longest)
        .order_by("-at")
        .values_list("at", flat=True)
    )
    wait = _wait(by_name, now, NAME_CAPS)
    if address:
        longest = max(w for w, _ in ADDRESS_CAPS)
        by_address = list(
            PasswordFailure.objects.filter(client_address=address, at__gt=now - longest)
            .order_by("-at")
            .values_list("at", flat=True)
        )
        wait = max(wait, _wait(by_address, now, ADDRESS_CAPS))
    return math.ceil(wait)


def record_failure(login_name: str, address: str, now: datetime) -> None:
    PasswordFailure.objects.create(
        login_name=normalise_email(login_name)[:254], client_address=address, at=now
    )
