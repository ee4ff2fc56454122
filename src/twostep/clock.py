"""The server clock, in one place so that tests can freeze it.

Every decision about codes and time limits reads the time through ``utcnow()``;
call it as ``clock.utcnow()`` so that a test's monkeypatch takes effect.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
