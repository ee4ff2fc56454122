"""C01 / S39: a pending login (password accepted, code not yet) reaches no page.

The URL list is built from the URL configuration, so a new page cannot be forgotten: a
pattern the walker cannot fill in fails the test instead of being skipped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from tests.accounts.conftest import is_pending, is_signed_in
from tests.conftest import FrozenClock, log_in_password
from twostep.accounts.models import User
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice

# Pages that by design answer without a signed-in user. Everything else must not.
PUBLIC_NAMES = {
    "accounts:login",
    "accounts:code",
    "accounts:recovery",  # the code step with a recovery code: part of signing in
    "accounts:logout",
    "accounts:set_language",  # the footer's language switcher, for visitors too
    "accounts:session_changed",  # after another tab ended or rotated the session: no data
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
}
PUBLIC_PATHS = {"/django-admin/login/"}  # replaced by a redirect to the portal's login
SIGN_IN_PAGES = ("/login/", "/django-admin/login/")  # /login/ covers /login/code/
# Django's admin sends a signed-out visitor of its logout page to its index (which then
# redirects to the login like every other admin page).
FIRST_HOP_EXCEPTIONS = {"/django-admin/logout/": "/django-admin/"}
REDIRECTS = {301, 302, 303, 307, 308}


def _fill_route(route: str, value: str) -> list[str]:
    filled = re.sub(r"<(?:\w+:)?\w+>", value, route)
    assert "<" not in filled, f"cannot fill {route!r}"
    return [filled]


def _fill_regex(regex: str) -> list[str]:
    """Sample paths for the simple regexes Django's admin uses; anything else fails."""
    regex = regex.removeprefix("^").removesuffix("$")
    choices = re.fullmatch(r"\(\?P<\w+>([\w|]+)\)(.*)", regex)
    if choices:
        return [alt + choices.group(2) for alt in choices.group(1).split("|")]
    regex = re.sub(r"\(\?P<\w+>\.\*\)", "no-such-page/", regex)
    assert not re.search(r"[\\^$()\[\]*+?|{}]", regex), f"extend the walker for {regex!r}"
    return [regex]


def _walk(
    patterns: list[URLPattern | URLResolver], prefix: list[str], namespace: str, value: str
) -> Iterator[tuple[str, str]]:
    for p in patterns:
        pattern = p.pattern
        if isinstance(pattern, RoutePattern):
            parts = _fill_route(str(pattern), value)
        else:
            assert isinstance(pattern, RegexPattern)
            parts = _fill_regex(pattern.regex.pattern)
        paths = ["".join(c) for c in itertools.product(prefix, parts)]
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, paths, ns, value)
        else:
            for path in paths:
                yield "/" + path, f"{namespace}{p.name}" if p.name else ""


def all_urls(user_id: int) -> list[tuple[str, str]]:
    """(path, namespaced name) for every pattern, path parameters filled with ``user_id``."""
    return sorted(set(_walk(get_resolver().url_patterns, [""], "", str(user_id))))


def needs_login(path: str, name: str) -> bool:
    return name not in PUBLIC_NAMES and path not in PUBLIC_PATHS and not path.startswith("/static/")


@pytest.fixture
def powerful_alice(alice_with_totp: User) -> User:
    """Alice as superuser, office admin and helpdesk agent: a leak would show real content."""
    alice_with_totp.is_staff = True
    alice_with_totp.is_superuser = True
    alice_with_totp.role = User.Role.OFFICE_ADMIN
    alice_with_totp.save()
    alice_with_totp.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    return alice_with_totp


def _follow(client: Client, method: str, path: str) -> list[tuple[int, str]]:
    """The redirect chain of one request: (status, location) per hop, last one (200, path)."""
    response = getattr(client, method)(path)
    hops: list[tuple[int, str]] = []
    for _ in range(6):
        if response.status_code not in REDIRECTS:
            hops.append((response.status_code, path))
            return hops
        hops.append((response.status_code, response.url))
        path = response.url
        response = client.get(path)
    raise AssertionError(f"redirect loop: {hops}")


def test_c01_the_url_walker_finds_every_area(powerful_alice: User) -> None:
    urls = dict(all_urls(powerful_alice.pk))
    for expected in (
        "/",
        "/account/2fa/",
        "/account/2fa/disable/",
        "/administration/users/",
        "/helpdesk/",
        f"/helpdesk/users/{powerful_alice.pk}/",
        "/django-admin/",
        "/django-admin/accounts/user/",
        f"/django-admin/accounts/user/{powerful_alice.pk}/change/",
    ):
        assert expected in urls, expected
    for public in PUBLIC_PATHS | {"/login/", "/login/code/", "/logout/"}:
        assert public in urls, f"{public} is no longer in the URL configuration"


@pytest.mark.parametrize("method", ["get", "post"])
def test_c01_pending_login_reaches_no_page(
    client: Client, powerful_alice: User, frozen_clock: FrozenClock, method: str
) -> None:
    """C01/S39: with only the password, every page that needs a login (the Django admin
    included) redirects to the login or code page, and the chain ends at the code step."""
    assert log_in_password(client, powerful_alice.email).url == "/login/code/"
    checked = []
    for path, name in all_urls(powerful_alice.pk):
        if not needs_login(path, name):
            continue
        hops = _follow(client, method, path)
        first_status, first_location = hops[0]
        assert first_status in REDIRECTS, f"{method.upper()} {path} answered {first_status}"
        if path in FIRST_HOP_EXCEPTIONS:
            assert first_location == FIRST_HOP_EXCEPTIONS[path], (path, hops)
        else:
            assert first_location.startswith(SIGN_IN_PAGES), (path, hops)
        for status, _location in hops[:-1]:
            assert status in REDIRECTS, (path, hops)  # no page shown on the way
        assert hops[-1] == (200, "/login/code/"), (path, hops)
        checked.append(path)
    assert "/django-admin/" in checked and "/" in checked
    assert len(checked) >= 20

    # Still pending, nothing changed on the way.
    assert is_pending(client)
    assert not is_signed_in(client)
    assert not PendingEnrolment.objects.filter(user=powerful_alice).exists()
    assert TwoFactorDevice.objects.get(user=powerful_alice).last_used_step == 0


def test_c01_public_pages_show_no_signed_in_content_to_a_pending_login(
    pending_client: Client, alice_with_totp: User
) -> None:
    """The pages that need no login do not show the user menu to a pending session."""
    for path, name in all_urls(alice_with_totp.pk):
        if needs_login(path, name) or name == "accounts:logout":
            continue
        response = pending_client.get(path, follow=True)
        assert response.status_code in {200, 400, 404}, (path, response.status_code)
        assert b'data-testid="user-menu"' not in response.content, path
    assert is_pending(pending_client)


def test_c01_admin_login_is_the_portal_login(client: Client) -> None:
    """/django-admin/login/ sends to the portal's login (with a safe `next`)."""
    response = client.get("/django-admin/login/?next=/django-admin/accounts/user/")
    assert response.status_code == 302
    assert response.url == "/login/?next=%2Fdjango-admin%2Faccounts%2Fuser%2F"
    response = client.get("/django-admin/login/?next=https://evil.example/")
    assert response.url == "/login/?next=%2F"
    response = client.post("/django-admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 302 and response.url.startswith("/login/")
