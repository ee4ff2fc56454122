"""Twostep's own settings as one typed object, read at call time (never frozen at import)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class TwostepSettings:
    issuer: str
    helpdesk_contact: str
    trusted_proxy_count: int
    key_ring: str


def get_settings() -> TwostepSettings:
    return TwostepSettings(
        issuer=settings.TWOSTEP_ISSUER,
        helpdesk_contact=settings.TWOSTEP_HELPDESK_CONTACT,
        trusted_proxy_count=settings.TWOSTEP_TRUSTED_PROXY_COUNT,
        key_ring=settings.TWOSTEP_KEY_RING,
    )
