"""Signing a user out of their other sessions after a security change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twostep.audit import events
from twostep.audit.models import EventKind

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client


def sign_out_other_sessions(user: User, client: Client, reason: str, actor: User | None) -> None:
    """Rotate the security stamp: every session's hash breaks. The caller re-hashes the
    current session with ``update_session_auth_hash`` when it should continue."""
    user.rotate_security_stamp()
    events.record(
        EventKind.SESSIONS_REVOKED, subject=user, actor=actor, client=client, reason=reason
    )
