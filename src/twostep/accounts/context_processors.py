from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from twostep.conf import get_settings


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the top-right user menu offers to whoever is signed in."""
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "nav_is_office_admin": signed_in and getattr(user, "is_office_admin", False),
        "nav_is_helpdesk_agent": signed_in and getattr(user, "is_helpdesk_agent", False),
        "helpdesk_contact": get_settings().helpdesk_contact,
        "issuer": get_settings().issuer,
        # The footer's switcher: each language named in itself, whatever the active one.
        "language_choices": settings.LANGUAGES,
    }
