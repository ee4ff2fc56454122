"""Disable 2FA with the password and a code (case C18; standards S46-S49; decision D1)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, SEED20, FrozenClock, log_in_password
from tests.twofa_flows import (
    DISABLE,
    MANAGE,
    assert_no_key,
    enrol,
    shown_key,
    sign_in_with_code,
    sign_out,
    start,
)
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.models import CodeFailure, GuessingState, PendingEnrolment, TwoFactorDevice


def events(user: User, kind: EventKind) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(subject=user, kind=kind))


def test_c18_s46_only_the_right_password_disables(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C18/S46: no password, then a wrong one, then the right one: only the last disables;
    the wrong one counts as a failure and is an audit event. (The code: see the D1 tests.)"""
    alice = alice_with_totp
    page = verified_client.get(DISABLE)
    assert page.status_code == 200
    assert b'name="password"' in page.content and b'name="code"' in page.content
    frozen_clock.advance(30)  # the sign-in used this step's code
    code = frozen_clock.code(SEED20)

    for no_password in ({"code": code}, {"password": "", "code": code}):
        response = verified_client.post(DISABLE, no_password)
        assert response.status_code == 200
        assert TwoFactorDevice.objects.filter(user=alice).exists()
    assert b"This field is required." in response.content
    assert CodeFailure.objects.filter(user=alice).count() == 0
    assert events(alice, EventKind.REAUTH_PASSWORD_REFUSED) == []

    response = verified_client.post(DISABLE, {"password": PASSWORD + "x", "code": code})
    assert response.status_code == 200
    assert b"That password is not right. Nothing was changed." in response.content
    assert TwoFactorDevice.objects.filter(user=alice).exists()
    failures = list(CodeFailure.objects.filter(user=alice))
    assert len(failures) == 1 and failures[0].client_address == "127.0.0.1"
    assert GuessingState.objects.get(user=alice).consecutive_failures == 1
    refused = events(alice, EventKind.REAUTH_PASSWORD_REFUSED)
    assert len(refused) == 1 and refused[0].client_address == "127.0.0.1"
    assert events(alice, EventKind.TWO_FACTOR_DISABLED) == []

    frozen_clock.advance(2)  # past the growing wait after one failure
    # A wrong password did not use up the code: it still works with the right password.
    response = verified_client.post(DISABLE, {"password": PASSWORD, "code": code}, follow=True)
    assert response.redirect_chain == [(MANAGE, 302)]
    assert b"Two-factor authentication is now off." in response.content
    assert b"Two-factor authentication is disabled." in response.content
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
    disabled = events(alice, EventKind.TWO_FACTOR_DISABLED)
    assert len(disabled) == 1 and disabled[0].actor == alice
    assert verified_client.get("/").status_code == 200  # this session continues


def test_s46_a_right_password_right_after_a_wrong_one_must_wait(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S46: wrong passwords are throttled like codes: the growing wait applies here too."""
    frozen_clock.advance(30)
    code = frozen_clock.code(SEED20)
    verified_client.post(DISABLE, {"password": "wrong password here", "code": code})
    response = verified_client.post(DISABLE, {"password": PASSWORD, "code": code})
    assert response.status_code == 200
    assert b"Not yet: wait 1 second, then try again." in response.content
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


def test_c18_s47_disable_destroys_device_and_pending_key_then_password_only_and_new_key(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C18/S47/S25: after disable no device nor pending row remains; login asks only the
    password; enabling again gives a key different from the old and the abandoned one."""
    alice = alice_with_totp
    frozen_clock.advance(30)
    # An abandoned "new phone" setup.
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    abandoned = shown_key(verified_client)
    assert PendingEnrolment.objects.filter(user=alice).exists()

    frozen_clock.advance(30)
    response = verified_client.post(
        DISABLE, {"password": PASSWORD, "code": frozen_clock.code(SEED20)}
    )
    assert response.status_code == 302 and response.url == MANAGE
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
    assert not PendingEnrolment.objects.filter(user=alice).exists()
    sign_out(verified_client)

    response = log_in_password(verified_client, alice.email)
    assert response.status_code == 302 and response.url == "/"
    assert verified_client.get("/").status_code == 200

    new_key = enrol(verified_client, frozen_clock)
    assert new_key not in (SEED20, abandoned)
    assert len(new_key) == 20


def test_s49_enable_and_disable_each_send_one_email_without_the_key(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S49: enabling and disabling each email the user: what, when, from where; no key."""
    log_in_password(client, alice.email)
    mail.outbox.clear()
    key = enrol(client, frozen_clock)
    assert [m.subject for m in mail.outbox] == ["[Twostep] Two-factor authentication was turned on"]
    frozen_clock.advance(90)
    response = client.post(DISABLE, {"password": PASSWORD, "code": frozen_clock.code(key)})
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    message = mail.outbox[1]
    assert message.to == [alice.email]
    assert message.subject == "[Twostep] Two-factor authentication was turned off"
    assert "18 March 2005, 02:00 UTC" in message.body
    assert "127.0.0.1" in message.body
    assert alice.email in message.body
    for sent in mail.outbox:
        assert_no_key(sent.subject + sent.body, key, "email")


def test_c18_pending_session_cannot_disable(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C18: after the password only, Disable 2FA goes to the login and changes nothing."""
    alice = alice_with_totp
    for response in (
        pending_client.get(DISABLE),
        pending_client.post(DISABLE, {"password": PASSWORD}),
    ):
        assert response.status_code == 302 and response.url.startswith("/login/")
    assert TwoFactorDevice.objects.filter(user=alice).exists()
    assert events(alice, EventKind.TWO_FACTOR_DISABLED) == []
    assert mail.outbox == []
    response = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"


def test_s48_disable_signs_out_other_sessions_and_keeps_this_one(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S48: disabling rotates the security stamp: the other session of alice ends."""
    other = Client()
    frozen_clock.advance(30)
    sign_in_with_code(other, alice_with_totp.email, SEED20, frozen_clock)
    assert other.get("/").status_code == 200

    frozen_clock.advance(30)
    response = verified_client.post(
        DISABLE, {"password": PASSWORD, "code": frozen_clock.code(SEED20)}
    )
    assert response.status_code == 302
    assert verified_client.get(MANAGE).status_code == 200
    response = other.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_c18_get_never_disables(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """GET shows the form and changes nothing, even with a password in the query string."""
    for _ in range(3):
        response = verified_client.get(DISABLE, {"password": PASSWORD})
        assert response.status_code == 200
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert CodeFailure.objects.count() == 0
    assert events(alice_with_totp, EventKind.TWO_FACTOR_DISABLED) == []


def test_c18_disable_without_2fa_goes_back_to_manage(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """Disable 2FA when it is off: back to Manage 2FA, nothing recorded."""
    log_in_password(client, alice.email)
    for response in (client.get(DISABLE), client.post(DISABLE, {"password": PASSWORD})):
        assert response.status_code == 302 and response.url == MANAGE
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_DISABLED).count() == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_c18_anonymous_cannot_disable(client: Client, alice_with_totp: User, method: str) -> None:
    """Disable 2FA needs a signed-in session."""
    response = getattr(client, method)(DISABLE, {"password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


# --- D1: the password and the code (or a recovery code) -----------------------------------


def test_d1_right_password_with_a_missing_wrong_or_used_code_changes_nothing(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """Each refusal says what to do; wrong and used codes count and are audited."""
    alice = alice_with_totp
    login_code = frozen_clock.code(SEED20)  # used by the sign-in a moment ago
    cases = [
        (login_code, "That code has already been used. Wait for the next code"),
        ("", "Enter the 6-digit code from your authenticator app."),
        ("12345", "it has exactly 6 digits"),
        ("000000", "That code is not right. Enter the newest code"),
    ]
    for typed, told in cases:
        response = verified_client.post(DISABLE, {"password": PASSWORD, "code": typed})
        assert response.status_code == 200, typed
        assert told in response.content.decode(), typed
        assert TwoFactorDevice.objects.filter(user=alice).exists()
        frozen_clock.advance(60)  # past the growing wait
    refused = SecurityEvent.objects.filter(subject=alice, kind=EventKind.CODE_REFUSED)
    assert {e.reason for e in refused} >= {"reauth: wrong_code", "reauth: replayed"}
    assert events(alice, EventKind.TWO_FACTOR_DISABLED) == []
    assert GuessingState.objects.get(user=alice).consecutive_failures == len(cases)


def test_d1_a_recovery_code_replaces_the_lost_phone_once(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    from twostep.twofactor.recovery import replace_codes

    codes = replace_codes(alice_with_totp)
    response = verified_client.post(
        DISABLE, {"password": PASSWORD, "code": codes[3].upper().replace("-", " ")}
    )
    assert response.status_code == 302 and response.url == MANAGE
    assert not TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert events(alice_with_totp, EventKind.RECOVERY_CODE_USED)
