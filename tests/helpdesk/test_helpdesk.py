"""Helpdesk: find a user, check identity, reset 2FA (case C19; standards S53-S55)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client

from tests.conftest import (
    AGENT_KEY,
    SEED20,
    FrozenClock,
    enable_two_factor,
    log_in_password,
    make_enrolled_agent,
)
from tests.twofa_flows import enrol, sign_in, sign_in_with_code
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.helpdesk.forms import CHECKLIST
from twostep.twofactor.models import CodeFailure, GuessingState, TwoFactorDevice

T0 = datetime.fromtimestamp(1111111111, UTC)
ALICE_LAST_LOGIN = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
CHECKS = [name for name, _label in CHECKLIST]


def reset_form(reason: str = "TICKET-123", without: str = "") -> dict[str, str]:
    data = {name: "on" for name in CHECKS if name != without}
    data["reason"] = reason
    return data


def user_url(user: User) -> str:
    return f"/helpdesk/users/{user.pk}/"


@pytest.fixture
def agent(db: None) -> User:
    return make_enrolled_agent()


@pytest.fixture
def agent_client(agent: User, frozen_clock: FrozenClock) -> Client:
    client = Client()
    sign_in_with_code(client, agent.email, AGENT_KEY, frozen_clock)
    return client


@pytest.fixture
def office_admin(make_user: Callable[..., User]) -> User:
    return make_user("olga@example.com", full_name="Olga Admin", role=User.Role.OFFICE_ADMIN)


@pytest.fixture
def alice_known(alice_with_totp: User, office_admin: User) -> User:
    """Alice with 2FA and a known last sign-in, in an office with an admin."""
    User.objects.filter(pk=alice_with_totp.pk).update(last_login=ALICE_LAST_LOGIN)
    alice_with_totp.refresh_from_db()
    return alice_with_totp


def reset_events(user: User) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(subject=user, kind=EventKind.TWO_FACTOR_RESET))


@pytest.mark.parametrize(
    "typed", ["alice@example.com", "ALICE@Example.COM", "  Alice@example.com "]
)
def test_c19_agent_finds_user_by_email_in_any_case(
    agent_client: Client, alice_known: User, typed: str
) -> None:
    """C19: the search ignores case (one account per address) and surrounding spaces."""
    response = agent_client.post("/helpdesk/", {"email": typed})
    assert response.status_code == 302 and response.url == user_url(alice_known)


def test_c19_unknown_email_says_so(agent_client: Client, alice_known: User) -> None:
    response = agent_client.post("/helpdesk/", {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert b"No user has that email address." in response.content


def test_s53_user_page_shows_the_facts_to_check(
    agent_client: Client, alice_known: User, office_admin: User
) -> None:
    """S53: office, office admin, last sign-in and 2FA status for the identity checklist."""
    response = agent_client.get(user_url(alice_known))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Alice Example" in content
    assert "alice@example.com" in content
    assert "Müller &amp; Partner Steuerberatung" in content
    assert "Olga Admin (olga@example.com)" in content
    assert "6 May 2024" in content
    assert "On since 18 March 2005" in content
    for name in CHECKS:
        assert f'name="{name}"' in content
    assert 'name="reason"' in content


def test_c19_s54_reset_with_ticket_disables_records_and_emails(
    agent_client: Client, agent: User, alice_known: User, frozen_clock: FrozenClock
) -> None:
    """C19/S54: TICKET-123 and every check: 2FA off, an audit event with agent, user,
    time, address and reason, and an email to alice saying support removed it."""
    alice = alice_known
    mail.outbox.clear()
    response = agent_client.post(user_url(alice), reset_form(), follow=True)
    assert response.redirect_chain == [(user_url(alice), 302)]
    assert b"2FA is now off for alice@example.com" in response.content
    assert b'data-testid="helpdesk-twofa">Off' in response.content
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    [event] = reset_events(alice)
    assert event.actor == agent and event.actor_label == agent.email
    assert event.subject == alice and event.subject_label == alice.email
    assert event.at == T0
    assert event.client_address == "127.0.0.1"
    assert event.reason == "TICKET-123"

    to_alice = [m for m in mail.outbox if m.to == [alice.email]]
    assert len(to_alice) == 1
    assert "Support removed two-factor authentication" in to_alice[0].subject
    assert "Support removed" in to_alice[0].body
    assert "TICKET-123" in to_alice[0].body
    assert "18 March 2005, 01:58 UTC" in to_alice[0].body


@pytest.mark.parametrize("reason", ["", "   "])
def test_c19_reset_without_reason_is_refused_with_400(
    agent_client: Client, alice_known: User, reason: str
) -> None:
    """C19: no ticket reference, no reset (400) and nothing changes."""
    response = agent_client.post(user_url(alice_known), reset_form(reason=reason))
    assert response.status_code == 400
    assert b"Confirm every check and give a ticket reference" in response.content
    assert TwoFactorDevice.objects.filter(user=alice_known).exists()
    assert reset_events(alice_known) == []
    assert mail.outbox == []


@pytest.mark.parametrize("missing", CHECKS)
def test_s53_reset_with_a_check_missing_is_refused_with_400(
    agent_client: Client, alice_known: User, missing: str
) -> None:
    """S53: every identity check must be ticked."""
    response = agent_client.post(user_url(alice_known), reset_form(without=missing))
    assert response.status_code == 400
    assert TwoFactorDevice.objects.filter(user=alice_known).exists()
    assert reset_events(alice_known) == []
    assert mail.outbox == []


def test_c19_get_never_resets(agent_client: Client, alice_known: User) -> None:
    response = agent_client.get(user_url(alice_known), reset_form())
    assert response.status_code == 200
    assert TwoFactorDevice.objects.filter(user=alice_known).exists()
    assert reset_events(alice_known) == []


@pytest.mark.parametrize("who", ["member", "office_admin", "staff_without_permission"])
def test_c19_non_agents_get_403(
    make_user: Callable[..., User],
    alice_known: User,
    office_admin: User,
    frozen_clock: FrozenClock,
    who: str,
) -> None:
    """C19: a member, an office admin, or staff without the helpdesk permission: 403."""
    email = {
        "member": "bob@example.com",
        "office_admin": office_admin.email,
        "staff_without_permission": "staff@example.com",
    }[who]
    if who == "member":
        make_user(email, full_name="Bob Member")
    elif who == "staff_without_permission":
        make_user(email, full_name="Sam Staff", office=None, is_staff=True)
    visitor = Client()
    sign_in(visitor, email)
    assert visitor.get("/helpdesk/").status_code == 403
    assert visitor.post("/helpdesk/", {"email": alice_known.email}).status_code == 403
    assert visitor.get(user_url(alice_known)).status_code == 403
    assert visitor.post(user_url(alice_known), reset_form()).status_code == 403
    assert TwoFactorDevice.objects.filter(user=alice_known).exists()
    assert reset_events(alice_known) == []


def test_c19_anonymous_and_pending_go_to_login(
    pending_client: Client, alice_with_totp: User
) -> None:
    for client in (Client(), pending_client):
        for response in (
            client.get("/helpdesk/"),
            client.post(user_url(alice_with_totp), reset_form()),
        ):
            assert response.status_code == 302 and response.url.startswith("/login/")
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


def test_c19_agent_cannot_reset_themselves(
    agent_client: Client, agent: User, frozen_clock: FrozenClock
) -> None:
    """C19: nobody resets their own 2FA through the helpdesk page."""
    enable_two_factor(agent)
    page = agent_client.get(user_url(agent))
    assert page.status_code == 403
    assert "This is your own account." in page.content.decode()
    assert agent_client.post(user_url(agent), reset_form()).status_code == 403
    assert TwoFactorDevice.objects.filter(user=agent).exists()
    assert reset_events(agent) == []


@pytest.mark.parametrize("kind", ["agent", "operator"])
def test_another_agent_or_an_operator_is_sent_to_the_operators_command(
    agent_client: Client, make_user: Callable[..., User], frozen_clock: FrozenClock, kind: str
) -> None:
    """Said on the page (a fresh tester got a bare "You cannot open this page")."""
    fields = {"is_staff": True} if kind == "agent" else {"is_superuser": True, "is_staff": True}
    other = make_user(f"{kind}2@example.com", office=None, **fields)
    enable_two_factor(other)
    page = agent_client.get(user_url(other))
    assert page.status_code == 403
    text = page.content.decode()
    assert f"{other.email} is a helpdesk agent or an operator." in text
    assert "reset_2fa" in text and "Nothing was changed." in text
    assert agent_client.post(user_url(other), reset_form()).status_code == 403
    assert TwoFactorDevice.objects.filter(user=other).exists()


def test_the_reason_field_says_the_user_will_read_it(
    agent_client: Client, alice_known: User
) -> None:
    page = agent_client.get(user_url(alice_known)).content.decode()
    assert "shown to the user in the email" in page


def test_c19_after_reset_password_only_then_enable_again(
    agent_client: Client, alice_known: User, frozen_clock: FrozenClock
) -> None:
    """C19/S55: after the reset alice signs in with her password alone and can turn 2FA
    on again with a new key."""
    response = agent_client.post(user_url(alice_known), reset_form())
    assert response.status_code == 302
    alice_client = Client()
    response = log_in_password(alice_client, alice_known.email)
    assert response.status_code == 302 and response.url == "/"
    frozen_clock.advance(30)
    new_key = enrol(alice_client, frozen_clock)
    assert new_key != SEED20
    assert TwoFactorDevice.objects.filter(user=alice_known).exists()


def test_s55_reset_ends_alice_sessions_and_pending_logins(
    agent_client: Client, verified_client: Client, alice_known: User, frozen_clock: FrozenClock
) -> None:
    """S55: the lost phone stops working at once: open sessions and a half-done login
    (password given, code owed) of alice end with the reset."""
    half_done = Client()
    assert log_in_password(half_done, alice_known.email).url == "/login/code/"
    assert verified_client.get("/").status_code == 200

    assert agent_client.post(user_url(alice_known), reset_form()).status_code == 302

    response = verified_client.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    frozen_clock.advance(30)
    response = half_done.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/login/"
    assert half_done.get("/").status_code == 302


def test_c19_reset_unlocks_a_locked_code_step(
    agent_client: Client, alice_known: User, frozen_clock: FrozenClock
) -> None:
    """C11/C19: a locked code step shows on the page, and the reset lifts the lock."""
    alice = alice_known
    GuessingState.objects.update_or_create(
        user=alice, defaults={"consecutive_failures": 100, "locked_at": T0, "last_failure_at": T0}
    )
    CodeFailure.objects.create(user=alice, client_address="203.0.113.9", at=T0)
    locked_client = Client()
    log_in_password(locked_client, alice.email)
    response = locked_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert b"the code step of this account is locked" in response.content

    page = agent_client.get(user_url(alice))
    assert b"code step locked" in page.content
    assert agent_client.post(user_url(alice), reset_form()).status_code == 302
    state = GuessingState.objects.get(user=alice)
    assert state.locked_at is None and state.consecutive_failures == 0
    assert not CodeFailure.objects.filter(user=alice).exists()
    assert len(reset_events(alice)) == 1


def test_c19_reset_unlocks_a_lock_even_without_2fa(
    agent_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """A user with a locked code step but no device (reset before) can be unlocked."""
    GuessingState.objects.create(user=alice, consecutive_failures=100, locked_at=T0)
    page = agent_client.get(user_url(alice))
    assert 'data-testid="helpdesk-twofa">Off · code step locked' in page.content.decode()
    assert b'name="reason"' in page.content
    assert agent_client.post(user_url(alice), reset_form()).status_code == 302
    assert GuessingState.objects.get(user=alice).locked_at is None
    assert len(reset_events(alice)) == 1


def test_c19_reset_of_a_user_without_2fa_records_nothing(
    agent_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    response = agent_client.post(user_url(alice), reset_form(), follow=True)
    assert b"had no 2FA to reset" in response.content
    assert reset_events(alice) == []
    assert mail.outbox == []


def test_c19_security_events_cannot_be_changed_or_deleted(
    agent_client: Client, alice_known: User
) -> None:
    """C19: the audit trail is append-only: no update, no delete, one row or many."""
    agent_client.post(user_url(alice_known), reset_form())
    [event] = reset_events(alice_known)
    event.reason = "nothing happened"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        SecurityEvent.objects.filter(pk=event.pk).update(reason="edited")
    with pytest.raises(PermissionError):
        SecurityEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        SecurityEvent.objects.all().delete()
    with pytest.raises(PermissionError), transaction.atomic():
        SecurityEvent.objects.bulk_update([event], ["reason"])
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert stored.reason == "TICKET-123" and stored.kind == EventKind.TWO_FACTOR_RESET
