"""Sliding-window caps ("at most 5 failures in 5 minutes"), shared by the password-step and
code-step limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

Caps = Sequence[tuple[timedelta, int]]


def longest(caps: Caps) -> timedelta:
    return max(window for window, _ in caps)


def seconds_until_allowed(newest_first: Iterable[datetime], now: datetime, caps: Caps) -> float:
    """Seconds until every window holds fewer failures than its cap (0 when allowed now).

    ``newest_first`` are failure times, newest first, at least as far back as the longest window.
    """
    times = list(newest_first)
    waits = [0.0]
    for window, cap in caps:
        recent = [at for at in times if at > now - window]
        if len(recent) >= cap:
            waits.append((recent[cap - 1] + window - now).total_seconds())
    return max(waits)
