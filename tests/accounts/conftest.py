"""Helpers for the sign-in tests: what the user is told, posting codes, who is signed in."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from django.http import HttpResponse
from django.test import Client

from tests.conftest import SEED20, FrozenClock, enable_two_factor
from twostep.accounts.models import User
from twostep.twofactor.models import CodeFailure, TwoFactorDevice

BOB_KEY = b"BOB-KEY-0123456789AB"  # 20 bytes, not SEED20

_ALERTS = (
    re.compile(r'<div class="error" role="alert">(.*?)</div>', re.S),
    re.compile(r'<p class="field-error"[^>]*role="alert">(.*?)</p>', re.S),
)
_MESSAGES = re.compile(r'<p class="message message-[^"]*">(.*?)</p>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def alerts(response: HttpResponse) -> list[str]:
    """The error texts shown on a login or code page (what a screen reader announces)."""
    body = response.content.decode()
    return [_text(m) for pattern in _ALERTS for m in pattern.findall(body)]


def alert(response: HttpResponse) -> str:
    found = alerts(response)
    assert len(found) == 1, f"expected one error on the page, got {found!r}"
    return found[0]


def status_messages(response: HttpResponse) -> list[str]:
    return [_text(m) for m in _MESSAGES.findall(response.content.decode())]


def post_code(client: Client, code: str, **extra: object) -> HttpResponse:
    return client.post("/login/code/", {"code": code}, **extra)  # type: ignore[arg-type]


def is_signed_in(client: Client) -> bool:
    """True when the home page (login required) answers; pending sessions are redirected."""
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    return False


def is_pending(client: Client) -> bool:
    """True when the code page is shown (a valid pending login in this session)."""
    response = client.get("/login/code/")
    if response.status_code == 200:
        assert b"Enter your 6-digit code" in response.content
        return True
    assert response.status_code == 302 and response.url == "/login/", response
    return False


def failures_of(user: User) -> int:
    return CodeFailure.objects.filter(user=user).count()


def last_used_step(user: User) -> int:
    return TwoFactorDevice.objects.get(user=user).last_used_step


def window_codes(clock: FrozenClock, key: bytes = SEED20) -> set[str]:
    return {clock.code(key, offset) for offset in (-1, 0, 1)}


@pytest.fixture
def bob_with_totp(make_user: Callable[..., User], frozen_clock: FrozenClock) -> User:
    bob = make_user("bob@example.com", full_name="Bob Example")
    enable_two_factor(bob, key=BOB_KEY)
    return bob
