"""Where a request may send the browser next: only ever a page of this site."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` when it points into this site, otherwise the home page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url("home")


def same_site_referer(request: HttpRequest) -> str | None:
    """The path and query of the Referer when it is a page of this site (the same check as
    ``safe_next``), else None."""
    referer = request.headers.get("Referer", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(referer)
    if not parts.netloc or not parts.path.startswith("/"):
        return None  # a relative Referer is not what a browser sends
    return urlunsplit(("", "", parts.path, parts.query, ""))
