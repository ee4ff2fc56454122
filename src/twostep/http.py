"""What the product records about the client of a request."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.http import HttpRequest

from twostep.conf import get_settings


@dataclass(frozen=True)
class Client:
    address: str
    user_agent: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> Client:
        return cls(client_address(request), user_agent(request))

    @classmethod
    def command_line(cls) -> Client:
        return cls("", "command line")


def user_agent(request: HttpRequest) -> str:
    """The User-Agent as the browser wrote it: WSGI hands header bytes over as Latin-1, so a
    UTF-8 agent would otherwise be stored and shown garbled (a fresh tester saw mojibake in
    Security activity)."""
    raw = request.META.get("HTTP_USER_AGENT", "")
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        raw = raw.encode("latin-1").decode("utf-8")  # else not UTF-8: keep what arrived
    return raw[:300]


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address our own trusted proxies saw (never a client-chosen one)."""
    proxies = get_settings().trusted_proxy_count
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:45]
    return str(request.META.get("REMOTE_ADDR", ""))[:45]
