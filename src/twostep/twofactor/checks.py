"""System checks that refuse to start with a broken 2FA configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
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


PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(deploy=True)
def check_shared_state(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Sessions and guessing limits must live where every worker and instance sees them.

    The limits are in the database; sessions may be moved to a cache, which must then be shared.
    """
    errors: list[CheckMessage] = []
    if "cache" in settings.SESSION_ENGINE:
        backend = settings.CACHES.get("default", {}).get("BACKEND", "")
        if backend in PER_PROCESS_CACHES:
            errors.append(
                Error(
                    f"Sessions are kept in a per-process cache ({backend}): every worker would "
                    "see different sessions. Use the database or Redis.",
                    id="twostep.E003",
                )
            )
    return errors
