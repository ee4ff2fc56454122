"""System checks that refuse to start with a broken 2FA configuration."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from twostep.conf import get_settings
from twostep.twofactor.keyring import KeyRing, KeyRingError


@register()
def check_two_factor_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    conf = get_settings()
    try:
        KeyRing.parse(conf.key_ring)
    except KeyRingError as exc:
        errors.append(Error(f"TWOSTEP_KEY_RING is not usable: {exc}", id="twostep.E001"))
    if ":" in conf.issuer or not conf.issuer.strip():
        errors.append(
            Error(
                "TWOSTEP_ISSUER must be non-empty and must not contain ':' "
                "(Google's Key Uri Format forbids it).",
                id="twostep.E002",
            )
        )
    return errors
