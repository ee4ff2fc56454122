"""Guessing limits for codes, per account and per client address, stored in the database.

Numbers from ../shared/standards.md; the arithmetic is in docs/security.md:
- after each consecutive failure a wait that doubles: 1, 2, 4 ... up to 5 minutes;
- per account at most 5 failures in 5 minutes, 20 in an hour, 50 in a day;
- the code step locks (until the helpdesk resets 2FA) at 100 consecutive failures or
  100 failures within 30 days, whichever comes first; a correct code resets only the
  consecutive count, so the 30-day cap bounds an attacker who knows the password to
  fewer than 100 guesses a month whatever the real user does;
- per client address at most 10 failures in 5 minutes and 50 in an hour, over all accounts,
  except for an account that signed in from that address in the last 30 days (a shared office
  address must not let one person's typos lock out their colleagues).
An attempt refused by a limit is not evaluated and not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from twostep.audit.history import known_address
from twostep.sliding_windows import longest, seconds_until_allowed
from twostep.twofactor.models import CodeFailure, GuessingState

if TYPE_CHECKING:
    from twostep.accounts.models import User

MAX_WAIT_SECONDS = 300
LOCK_AFTER_FAILURES = 100
LOCK_WINDOW = timedelta(days=30)
ACCOUNT_CAPS = ((timedelta(minutes=5), 5), (timedelta(hours=1), 20), (timedelta(days=1), 50))
ADDRESS_CAPS = ((timedelta(minutes=5), 10), (timedelta(hours=1), 50))


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    wait_seconds: int = 0
    locked: bool = False


def growing_wait(consecutive_failures: int) -> int:
    if consecutive_failures <= 0:
        return 0
    return int(min(2 ** (consecutive_failures - 1), MAX_WAIT_SECONDS))


def locked_state(user: User) -> GuessingState:
    """The user's guessing row, locked until the end of the current transaction."""
    assert transaction.get_connection().in_atomic_block, "call inside transaction.atomic()"
    try:
        return GuessingState.objects.select_for_update().get(user=user)
    except GuessingState.DoesNotExist:
        try:
            with transaction.atomic():
                GuessingState.objects.create(user=user)
        except IntegrityError:
            pass  # created by a concurrent request; lock that one
        return GuessingState.objects.select_for_update().get(user=user)


def check(state: GuessingState, address: str, now: datetime) -> Allowance:
    if state.locked_at is not None:
        return Allowance(False, locked=True)
    waits = [0.0]
    if state.last_failure_at is not None:
        until = state.last_failure_at + timedelta(seconds=growing_wait(state.consecutive_failures))
        waits.append((until - now).total_seconds())
    # The account's windows need a query only if it failed within the longest one.
    if state.last_failure_at is not None and state.last_failure_at > now - longest(ACCOUNT_CAPS):
        mine = CodeFailure.objects.filter(
            user_id=state.user_id, at__gt=now - longest(ACCOUNT_CAPS)
        ).order_by("-at")
        waits.append(seconds_until_allowed(mine.values_list("at", flat=True), now, ACCOUNT_CAPS))
    if address and not known_address(state.user_id, address, now):
        theirs = CodeFailure.objects.filter(
            client_address=address, at__gt=now - longest(ADDRESS_CAPS)
        ).order_by("-at")
        waits.append(seconds_until_allowed(theirs.values_list("at", flat=True), now, ADDRESS_CAPS))
    wait = max(waits)
    if wait > 0:
        return Allowance(False, wait_seconds=math.ceil(wait))
    return Allowance(True)


def is_locked(user: User) -> bool:
    """A read-only look (no row lock): for telling the user, never for deciding."""
    return GuessingState.objects.filter(user=user, locked_at__isnull=False).exists()


def record_failure(state: GuessingState, address: str, now: datetime) -> bool:
    """Count one refused attempt; True when this failure locked the code step."""
    CodeFailure.objects.create(user_id=state.user_id, client_address=address, at=now)
    state.consecutive_failures += 1
    state.last_failure_at = now
    in_lock_window = CodeFailure.objects.filter(
        user_id=state.user_id, at__gt=now - LOCK_WINDOW
    ).count()
    newly_locked = state.locked_at is None and (
        state.consecutive_failures >= LOCK_AFTER_FAILURES or in_lock_window >= LOCK_AFTER_FAILURES
    )
    if newly_locked:
        state.locked_at = now
    state.save()
    return newly_locked


def record_success(state: GuessingState) -> None:
    if state.consecutive_failures:  # no write in the common case (found by the benchmark)
        state.consecutive_failures = 0
        state.save(update_fields=["consecutive_failures"])


def forget(user: User) -> None:
    """Clear the lock and counters (helpdesk reset): the next enrolment starts afresh."""
    GuessingState.objects.filter(user=user).update(
        consecutive_failures=0, last_failure_at=None, locked_at=None
    )
    CodeFailure.objects.filter(user=user).delete()
