"""Recent authentication ("sudo mode") and 2FA for the areas that act on other accounts.

S37/S45: binding a first 2FA key needs a password typed in the last TWOSTEP_REAUTH_SECONDS.
S57: the helpdesk and the Django admin open only for accounts with 2FA; a helpdesk reset and a
change of the office policy need a recent password too.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.conftest import (
    AGENT_KEY,
    PASSWORD,
    SEED20,
    FrozenClock,
    enable_two_factor,
    make_enrolled_agent,
)
from tests.twofa_flows import (
    CONFIRM,
    MANAGE,
    MANAGE_USERS,
    SETUP,
    START,
    shown_key,
    sign_in,
    sign_in_with_code,
)
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.helpdesk.forms import CHECKLIST
from twostep.twofactor.models import GuessingState, PendingEnrolment, TwoFactorDevice

CONFIRM_PASSWORD = "/account/confirm-password/"
STALE = 15 * 60 + 1  # one second past TWOSTEP_REAUTH_SECONDS (and inside the idle timeout)


def confirm_target(response: object) -> str:
    """The ``next`` of a redirect to Confirm your password (asserts that it is one)."""
    url = urlsplit(response.url)  # type: ignore[attr-defined]
    assert response.status_code == 302 and url.path == CONFIRM_PASSWORD, response  # type: ignore[attr-defined]
    return parse_qs(url.query)["next"][0]


@pytest.fixture
def alice_client(alice: User, frozen_clock: FrozenClock) -> Client:
    client = Client()
    sign_in(client, alice.email)
    return client


# --- S37/S45: the first Enable 2FA ----------------------------------------------------------


def test_fresh_sign_in_enables_2fa_without_being_asked_again(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    alice_client.post(START)
    assert alice_client.get(SETUP).status_code == 200
    key = shown_key(alice_client)
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 302 and response.url.endswith("/done/")
    assert TwoFactorDevice.objects.filter(user=alice).exists()


def test_s45_stale_session_cannot_bind_a_key_until_the_password_is_typed(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    frozen_clock.advance(10 * 60)  # signed in ten minutes ago, then Enable 2FA
    alice_client.post(START)
    key = shown_key(alice_client)
    frozen_clock.advance(STALE - 10 * 60)  # the key is still live (10 minutes), the password not
    # The code step of Enable 2FA, POSTed from a session left open: refused, nothing bound.
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)}, follow=True)
    assert response.redirect_chain[0][0].startswith(CONFIRM_PASSWORD)
    assert "Nothing was changed. Confirm your password" in response.content.decode()
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
    assert confirm_target(alice_client.get(SETUP)) == SETUP
    # The right password brings her back to where she was, with the same key.
    response = alice_client.post(CONFIRM_PASSWORD, {"password": PASSWORD, "next": SETUP})
    assert response.status_code == 302 and response.url == SETUP
    assert shown_key(alice_client) == key
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 302 and response.url.endswith("/done/")
    assert TwoFactorDevice.objects.filter(user=alice).exists()


def test_wrong_password_on_confirm_is_refused_and_counted(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    alice_client.post(START)
    frozen_clock.advance(STALE)
    response = alice_client.post(CONFIRM_PASSWORD, {"password": "not it", "next": SETUP})
    assert response.status_code == 400
    assert "That password is not right" in response.content.decode()
    assert GuessingState.objects.get(user=alice).consecutive_failures == 1
    assert SecurityEvent.objects.filter(
        kind=EventKind.REAUTH_PASSWORD_REFUSED, subject=alice
    ).exists()
    assert confirm_target(alice_client.get(SETUP)) == SETUP  # still not recent
    empty = alice_client.post(CONFIRM_PASSWORD, {"password": "", "next": SETUP})
    assert empty.status_code == 400


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""]
)
def test_confirm_password_goes_only_to_this_site(
    alice_client: Client, frozen_clock: FrozenClock, next_url: str
) -> None:
    response = alice_client.post(CONFIRM_PASSWORD, {"password": PASSWORD, "next": next_url})
    assert response.status_code == 302 and response.url == "/"


def test_anonymous_and_pending_sessions_are_sent_to_sign_in(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    assert client.get(CONFIRM_PASSWORD).url.startswith("/login/")
    client.post("/login/", {"email": alice_with_totp.email, "password": PASSWORD})
    response = client.post(CONFIRM_PASSWORD, {"password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_typed_time_in_the_future_is_not_recent(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """A clock set back (or a tampered value) never makes a session count as recent."""
    frozen_clock.advance(-60)
    alice_client.post(START)
    assert confirm_target(alice_client.get(SETUP)) == SETUP


def test_setting_up_a_new_phone_counts_its_password_as_recent(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    frozen_clock.advance(STALE)
    response = verified_client.post(
        START, {"password": PASSWORD, "code": frozen_clock.code(SEED20)}
    )
    assert response.status_code == 302 and response.url == SETUP
    assert verified_client.get(SETUP).status_code == 200


def test_overdue_user_can_confirm_the_password(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """The office policy leaves only the 2FA setup open; Confirm your password is part of it."""
    from datetime import timedelta

    assert alice.office is not None
    alice.office.require_2fa_since = frozen_clock.now - timedelta(days=30)
    alice.office.grace_days = 0
    alice.office.save()
    User.objects.filter(pk=alice.pk).update(date_joined=frozen_clock.now - timedelta(days=30))
    frozen_clock.advance(STALE)
    assert alice_client.get("/").url == MANAGE
    alice_client.post(START)
    assert confirm_target(alice_client.get(SETUP)) == SETUP
    assert alice_client.get(CONFIRM_PASSWORD, {"next": SETUP}).status_code == 200
    response = alice_client.post(CONFIRM_PASSWORD, {"password": PASSWORD, "next": SETUP})
    assert response.url == SETUP


# --- S57: the helpdesk ----------------------------------------------------------------------


def test_s57_agent_without_2fa_is_shown_how_to_turn_it_on(
    alice_with_totp: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    agent = make_user("agent@example.com", office=None, is_staff=True, full_name="Hal")
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    desk = Client()
    sign_in(desk, agent.email)
    for response in (
        desk.get("/helpdesk/"),
        desk.post("/helpdesk/", {"email": alice_with_totp.email}),
        desk.get(f"/helpdesk/users/{alice_with_totp.pk}/"),
    ):
        assert response.status_code == 403
        page = response.content.decode()
        assert "Turn on 2FA first" in page and 'href="/account/2fa/"' in page
    checks = {name: "on" for name, _label in CHECKLIST}
    desk.post(f"/helpdesk/users/{alice_with_totp.pk}/", {**checks, "reason": "TICKET-1"})
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    # With 2FA on (and signed in with it), the helpdesk opens.
    enable_two_factor(agent, AGENT_KEY)
    desk = Client()
    sign_in_with_code(desk, agent.email, AGENT_KEY, frozen_clock)
    assert desk.get("/helpdesk/").status_code == 200


def test_s57_helpdesk_reset_needs_a_recent_password(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    agent = make_enrolled_agent()
    desk = Client()
    sign_in_with_code(desk, agent.email, AGENT_KEY, frozen_clock)
    user_page = f"/helpdesk/users/{alice_with_totp.pk}/"
    assert desk.get(user_page).status_code == 200
    frozen_clock.advance(STALE)
    assert desk.get("/helpdesk/").status_code == 200  # finding a user is not a change
    assert confirm_target(desk.get(user_page)) == user_page
    checks = {name: "on" for name, _label in CHECKLIST}
    response = desk.post(user_page, {**checks, "reason": "TICKET-7 lost phone"})
    assert confirm_target(response) == user_page
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert not SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_RESET).exists()
    desk.post(CONFIRM_PASSWORD, {"password": PASSWORD, "next": user_page})
    response = desk.post(user_page, {**checks, "reason": "TICKET-7 lost phone"})
    assert response.status_code == 302
    assert not TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


# --- S57: the office policy and the Django admin ----------------------------------------------


def test_s57_office_policy_change_needs_a_recent_password(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    admin = make_user("ada@example.com", full_name="Ada", role=User.Role.OFFICE_ADMIN)
    c = Client()
    sign_in(c, admin.email)
    frozen_clock.advance(STALE)
    assert c.get(MANAGE_USERS).status_code == 200  # reading the list is not a change
    response = c.post("/administration/policy/", {"require_2fa": "on", "grace_days": 7})
    assert confirm_target(response) == MANAGE_USERS
    admin.office.refresh_from_db()
    assert admin.office.require_2fa_since is None
    c.post(CONFIRM_PASSWORD, {"password": PASSWORD, "next": MANAGE_USERS})
    c.post("/administration/policy/", {"require_2fa": "on", "grace_days": 7})
    admin.office.refresh_from_db()
    assert admin.office.require_2fa_since == frozen_clock.now


def test_s57_operator_without_2fa_cannot_open_the_django_admin(
    db: None, frozen_clock: FrozenClock
) -> None:
    root = User.objects.create_superuser("root@example.com", PASSWORD, full_name="Root")
    c = Client()
    sign_in(c, root.email)
    response = c.get("/django-admin/accounts/user/", follow=True)
    assert response.status_code == 403
    assert "Turn on 2FA first" in response.content.decode()
    enable_two_factor(root, SEED20)
    c = Client()
    sign_in_with_code(c, root.email, SEED20, frozen_clock)
    assert c.get("/django-admin/accounts/user/").status_code == 200


def test_no_pending_key_is_made_by_a_get(alice_client: Client, alice: User) -> None:
    alice_client.get(CONFIRM_PASSWORD, {"next": SETUP})
    assert not PendingEnrolment.objects.filter(user=alice).exists()
