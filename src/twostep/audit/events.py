"""Recording security events: one function, called by the use cases."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from twostep import clock
from twostep.audit.models import EventKind, SecurityEvent

if TYPE_CHECKING:
    from twostep.accounts.models import User
    from twostep.http import Client

logger = logging.getLogger("twostep.security")


def record(
    kind: EventKind,
    *,
    subject: User | None,
    client: Client,
    actor: User | None = None,
    reason: str = "",
    subject_label: str = "",
) -> SecurityEvent:
    event = SecurityEvent.objects.create(
        kind=kind,
        at=clock.utcnow(),
        actor=actor,
        subject=subject,
        actor_label=actor.email if actor else ("command line" if not client.address else ""),
        subject_label=subject.email if subject else subject_label[:254],
        client_address=client.address,
        user_agent=client.user_agent,
        reason=reason,
    )
    logger.info(
        "security_event",
        extra={
            "kind": kind.value,
            "subject": event.subject_label,
            "actor": event.actor_label,
            "client": client.address,
            "user_agent": client.user_agent,
            "reason": reason,
        },
    )
    return event
