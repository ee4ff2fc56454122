"""The password step and the pending login (S39, S42, S59, and the `next` parameter)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.accounts.conftest import (
    alert,
    is_pending,
    is_signed_in,
    last_used_step,
    post_code,
    status_messages,
)
from tests.conftest import PASSWORD, SEED20, FrozenClock, enable_two_factor, log_in_password
from twostep.accounts import pending
from twostep.accounts.hashers import TwostepArgon2PasswordHasher
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.models import CodeFailure

WRONG_CREDENTIALS = "The email address or password is not right."


def _comparable(body: bytes, email: str) -> str:
    """The page without what legitimately differs: the CSRF token and the echoed email."""
    text = body.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", text)
    return text.replace(email, "EMAIL")


# --- email and password ---------------------------------------------------------------


def test_s59_email_is_case_insensitive_without_2fa(client: Client, alice: User) -> None:
    """S59: `Alice@Example.com` is alice@example.com; without 2FA the password signs in."""
    response = log_in_password(client, "Alice@Example.com")
    assert response.status_code == 302 and response.url == "/"
    assert is_signed_in(client)


def test_s59_email_is_case_insensitive_with_2fa(client: Client, alice_with_totp: User) -> None:
    """S59: the mixed-case (and padded) address reaches alice's code step."""
    response = log_in_password(client, "  ALICE@Example.COM ")
    assert response.status_code == 302 and response.url == "/login/code/"
    assert is_pending(client)
    assert b"alice@example.com" in client.get("/login/code/").content


def test_s59_wrong_email_and_wrong_password_look_identical(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """S59: unknown email, wrong password for a 2FA user and for a non-2FA user: same
    status, same message, same page, same cookies; none of them reaches the code step."""
    alice = make_user()
    enable_two_factor(alice)
    make_user("bob@example.com", full_name="Bob Example")  # no 2FA
    make_user("carol@example.com", full_name="Carol Example", is_active=False)
    attempts = [
        ("nobody@example.com", PASSWORD),
        ("alice@example.com", PASSWORD + "x"),
        ("bob@example.com", PASSWORD + "x"),
        ("Alice@Example.com", "wrong"),
        ("carol@example.com", PASSWORD),  # right password, deactivated account
    ]
    seen = []
    for email, password in attempts:
        client = Client()
        response = log_in_password(client, email, password)
        assert response.status_code == 200, email
        assert alert(response) == WRONG_CREDENTIALS
        assert b"Enter your 6-digit code" not in response.content
        seen.append(
            (
                response.status_code,
                _comparable(response.content, email),
                sorted(response.cookies.keys()),
            )
        )
        assert not is_pending(client)
        assert not is_signed_in(client)
    assert all(s == seen[0] for s in seen), "responses differ between the wrong-login cases"
    assert SecurityEvent.objects.filter(kind=EventKind.LOGIN_FAILED).count() == len(attempts)
    assert not SecurityEvent.objects.filter(kind=EventKind.PASSWORD_ACCEPTED).exists()


def test_s59_unknown_email_costs_a_password_hash_too(
    client: Client, alice_with_totp: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S59 (timing): an unknown email runs one Argon2 computation, like a wrong password."""
    calls: list[str] = []
    real_encode = TwostepArgon2PasswordHasher.encode
    real_verify = TwostepArgon2PasswordHasher.verify

    def encode(self, password, salt):  # type: ignore[no-untyped-def]
        calls.append("encode")
        return real_encode(self, password, salt)

    def verify(self, password, encoded):  # type: ignore[no-untyped-def]
        calls.append("verify")
        return real_verify(self, password, encoded)

    monkeypatch.setattr(TwostepArgon2PasswordHasher, "encode", encode)
    monkeypatch.setattr(TwostepArgon2PasswordHasher, "verify", verify)

    log_in_password(client, "nobody@example.com", "whatever it is")
    unknown = list(calls)
    calls.clear()
    log_in_password(client, "alice@example.com", "whatever it is")
    assert len(unknown) == 1 and calls == ["verify"], (unknown, calls)


def test_s59_code_screen_appears_only_after_the_right_password(
    client: Client, alice_with_totp: User
) -> None:
    """S59: the 2FA prompt is not reachable before, and shown after, a correct password."""
    assert not is_pending(client)
    response = log_in_password(client, alice_with_totp.email, "not the password")
    assert response.status_code == 200
    assert not is_pending(client)
    response = log_in_password(client, alice_with_totp.email)
    assert response.status_code == 302 and response.url == "/login/code/"
    assert is_pending(client)


def test_user_without_2fa_is_signed_in_by_the_password_alone(client: Client, alice: User) -> None:
    """S40 (only users with 2FA get the code step): without 2FA the password signs in."""
    response = log_in_password(client, alice.email)
    assert response.status_code == 302 and response.url == "/"
    assert is_signed_in(client)
    assert int(client.session["_auth_user_id"]) == alice.pk
    assert pending.SESSION_KEY not in client.session
    assert SecurityEvent.objects.filter(kind=EventKind.LOGIN_SUCCEEDED, subject=alice).exists()


# --- the session ---------------------------------------------------------------------


def test_s42_session_key_changes_after_password_and_after_code(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S42: before password, pending, and signed-in keys all differ; old keys are dead."""
    session = client.session  # a session planted before the login (fixation attempt)
    session["planted"] = True
    session.save()
    before = client.cookies["sessionid"].value

    log_in_password(client, alice_with_totp.email)
    pending_key = client.cookies["sessionid"].value
    assert pending_key != before
    assert is_pending(client)

    assert post_code(client, frozen_clock.code(SEED20)).status_code == 302
    signed_in_key = client.cookies["sessionid"].value
    assert signed_in_key not in {before, pending_key}
    assert is_signed_in(client)

    for old in (before, pending_key):
        assert not Session.objects.filter(session_key=old).exists()
        replayer = Client()
        replayer.cookies["sessionid"] = old
        assert not is_signed_in(replayer), old
        assert not is_pending(replayer), old


def test_s42_session_key_changes_at_password_login_without_2fa(client: Client, alice: User) -> None:
    """S42: a password-only login also gets a new session key; the planted one is dead."""
    session = client.session
    session["planted"] = True
    session.save()
    before = client.cookies["sessionid"].value
    log_in_password(client, alice.email)
    assert client.cookies["sessionid"].value != before
    replayer = Client()
    replayer.cookies["sessionid"] = before
    assert not is_signed_in(replayer)


def test_s39_pending_session_is_not_logged_in(pending_client: Client) -> None:
    """S39: after the password alone, / redirects to the login, which sends to the code step."""
    response = pending_client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")
    assert pending_client.get(response.url).url == "/login/code/"
    assert "_auth_user_id" not in pending_client.session
    assert is_pending(pending_client)


def test_pending_login_still_valid_just_before_five_minutes(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S39 (pending lifetime of 5 minutes): 299 s after the password the code still works."""
    frozen_clock.advance(299)
    response = post_code(pending_client, frozen_clock.code(SEED20))
    assert response.status_code == 302 and response.url == "/"
    assert is_signed_in(pending_client)


def test_pending_login_expires_after_five_minutes(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S39 (pending lifetime of 5 minutes): a valid code 301 s after the password sends
    back to the login, unevaluated and unconsumed."""
    frozen_clock.advance(301)
    response = post_code(pending_client, frozen_clock.code(SEED20))
    assert response.status_code == 302 and response.url == "/login/"
    page = pending_client.get("/login/")
    assert page.status_code == 200  # the login form, not a redirect to the code step
    assert any("took too long" in m for m in status_messages(page))
    assert not is_signed_in(pending_client)
    assert not is_pending(pending_client)
    assert last_used_step(alice_with_totp) == 0  # the code was not evaluated or used
    assert not CodeFailure.objects.exists()
    assert not SecurityEvent.objects.filter(
        kind__in=[EventKind.CODE_ACCEPTED, EventKind.CODE_REFUSED]
    ).exists()


@pytest.mark.parametrize("change", ["set_password", "rotate_security_stamp"])
def test_password_change_voids_the_pending_login(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock, change: str
) -> None:
    """S39/S52: a password change (or a 2FA reset's stamp rotation) voids the pending
    state: the code alone cannot finish a login started with the old password."""
    user = User.objects.get(pk=alice_with_totp.pk)
    if change == "set_password":
        user.set_password("a completely different passphrase 77")
        user.save()
    else:
        user.rotate_security_stamp()
    response = post_code(pending_client, frozen_clock.code(SEED20))
    assert response.status_code == 302 and response.url == "/login/"
    assert not is_signed_in(pending_client)
    assert not is_pending(pending_client)
    assert last_used_step(alice_with_totp) == 0


# --- next ----------------------------------------------------------------------------

NEXT_CASES = [
    ("/account/2fa/", "/account/2fa/"),
    ("/helpdesk/?email=x%40example.com", "/helpdesk/?email=x%40example.com"),
    ("https://evil.example/", "/"),
    ("//evil.example", "/"),
    ("///evil.example", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http://testserver.evil.example/", "/"),
]


@pytest.mark.parametrize(("next_url", "landing"), NEXT_CASES)
def test_next_after_the_code_step(
    client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
    next_url: str,
    landing: str,
) -> None:
    """S40: after the code step the user lands on `next` only when it is on this site
    (no open redirect out of the login)."""
    response = log_in_password(client, alice_with_totp.email, next_url=next_url)
    assert response.status_code == 302 and response.url == "/login/code/"
    response = post_code(client, frozen_clock.code(SEED20))
    assert response.status_code == 302
    assert response.url == landing


@pytest.mark.parametrize(("next_url", "landing"), NEXT_CASES)
def test_next_after_the_password_without_2fa(
    client: Client, alice: User, next_url: str, landing: str
) -> None:
    """S40: the same `next` rule for users without 2FA (password step only)."""
    response = log_in_password(client, alice.email, next_url=next_url)
    assert response.status_code == 302
    assert response.url == landing


def test_next_from_the_query_string_survives_the_code_step(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S40: the form's `next` (as after a login_required redirect) survives the code step."""
    page = client.get("/login/?next=/account/2fa/")
    assert b'name="next" value="/account/2fa/"' in page.content
    response = client.post(
        "/login/?next=https://evil.example/",
        {"email": alice_with_totp.email, "password": PASSWORD, "next": "/account/2fa/"},
    )
    assert response.url == "/login/code/"
    assert post_code(client, frozen_clock.code(SEED20)).url == "/account/2fa/"
