"""The QR code of a key URI as inline SVG (segno; no image library needed)."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(uri: str) -> SafeString:
    """Error correction M, a quiet zone of 4 modules, a viewBox so CSS sets the size."""
    code = segno.make(uri, error="m", micro=False, boost_error=False)
    svg = code.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True)
    return mark_safe(svg)  # noqa: S308  (segno escapes nothing user-controlled into markup)
