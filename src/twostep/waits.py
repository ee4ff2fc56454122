"""How long to wait, said the way a person would say it."""

from __future__ import annotations

import math

from django.utils.translation import ngettext


def wait_phrase(seconds: int) -> str:
    """'1 second', '45 seconds', '3 minutes', '5 hours' (rounded up, never shorter)."""
    if seconds < 120:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    if seconds < 2 * 3600:
        minutes = math.ceil(seconds / 60)
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = math.ceil(seconds / 3600)
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
