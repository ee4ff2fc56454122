"""Enable 2FA through the pages: the key, the code, Done; re-enrolment; no key leaks.

Cases C02, C12-C17, C20 and standards S13, S20, S21, S23-S25, S33, S34, S36, S38, S48, S49.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils.html import escape

from tests.conftest import (
    AGENT_KEY,
    PASSWORD,
    SEED20,
    FrozenClock,
    enable_two_factor,
    log_in_password,
    make_enrolled_agent,
)
from tests.twofa_flows import (
    CONFIRM,
    DONE,
    MANAGE,
    MANAGE_USERS,
    SETUP,
    START,
    assert_no_key,
    database_dump,
    enrol,
    key_from_page,
    qr_matrix_from_svg,
    qr_svg_from_page,
    rendered_qr_matches,
    shown_key,
    sign_in,
    sign_in_with_code,
    sign_out,
    start,
)
from twostep import otp
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.enrolment import current_pending, key_for_display
from twostep.twofactor.keyring import KeyRingError
from twostep.twofactor.models import CodeFailure, PendingEnrolment, TwoFactorDevice
from twostep.twofactor.storage import unseal

ROOT_KEY = b"root operator key 12"  # an operator's own 2FA key (the Django admin needs 2FA)
T0 = datetime.fromtimestamp(1111111111, UTC)


@pytest.fixture
def alice_client(client: Client, alice: User, frozen_clock: FrozenClock) -> Client:
    """Alice (no 2FA yet) signed in with her password."""
    sign_in(client, alice.email)
    return client


def wrong_code(key: bytes, clock: FrozenClock) -> str:
    """A well-formed code that is none of the codes accepted now (window +-1)."""
    accepted = {clock.code(key, offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def pending_key(user: User) -> bytes:
    return unseal(user.pk, PendingEnrolment.objects.get(user=user).encrypted_key)


def device_key(user: User) -> bytes:
    return unseal(user.pk, TwoFactorDevice.objects.get(user=user).encrypted_key)


# --- the whole flow ---------------------------------------------------------------------


def test_c12_s36_whole_flow_start_key_code_done_close(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """C12/S36: Manage 2FA says disabled; start -> key page -> code -> Done -> Close."""
    manage = alice_client.get(MANAGE)
    assert manage.status_code == 200
    assert b"Two-factor authentication is disabled." in manage.content
    assert f'action="{START}"'.encode() in manage.content

    response = alice_client.post(START)
    assert response.status_code == 302 and response.url == SETUP
    setup = alice_client.get(SETUP)
    assert setup.status_code == 200
    shown = key_from_page(setup.content)
    groups = shown.split(" ")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)  # S34
    assert f'href="{CONFIRM}"'.encode() in setup.content  # "Next"
    assert escape(alice.email).encode() in setup.content  # account to type
    key = pending_key(alice)
    assert shown.replace(" ", "") == base64.b32encode(key).decode()

    # Nothing is on yet: the pending key protects nothing (S36).
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    code_page = alice_client.get(CONFIRM)
    assert code_page.status_code == 200
    assert b'name="code"' in code_page.content
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 302 and response.url == DONE

    done = alice_client.get(DONE)
    assert done.status_code == 200
    assert b"Two-factor authentication is on" in done.content
    assert f'<a class="button primary" href="{MANAGE}">Close</a>'.encode() in done.content
    # Done is shown once; a reload goes back to Manage 2FA.
    again = alice_client.get(DONE)
    assert again.status_code == 302 and again.url == MANAGE

    device = TwoFactorDevice.objects.get(user=alice)
    assert device.confirmed_at == T0
    assert device_key(alice) == key
    assert not PendingEnrolment.objects.filter(user=alice).exists()

    manage = alice_client.get(MANAGE)
    assert b"Two-factor authentication is enabled since 18 March 2005." in manage.content
    assert b"Disable 2FA" in manage.content
    assert b"2FA on" in alice_client.get("/").content
    assert SecurityEvent.objects.filter(
        kind=EventKind.TWO_FACTOR_ENABLED, subject=alice, actor=alice
    ).exists()


def test_s49_enable_sends_an_email_with_time_and_address_and_no_key(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S49: enabling emails the user once: when, from where; never the key."""
    mail.outbox.clear()
    key = enrol(alice_client, frozen_clock)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "turned on" in message.subject
    assert "18 March 2005, 01:58 UTC" in message.body
    assert "127.0.0.1" in message.body
    assert_no_key(message.subject + message.body, key, "enable email")
    assert "otpauth" not in message.body


# --- C12: the key is stable ---------------------------------------------------------------


def test_c12_key_is_stable_across_reloads_second_tab_and_wrong_code(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """C12: reload, Enable again, a second tab and a wrong code all keep key A. A second
    tab of the browser is the same session; another browser's session is never shown A
    (test_break_it_round2: the key belongs to the session that started the setup)."""
    start(alice_client)
    key_a = shown_key(alice_client)
    assert shown_key(alice_client) == key_a  # reload
    start(alice_client)  # pressing Enable 2FA again (e.g. back button)
    assert shown_key(alice_client) == key_a
    second_tab = Client()
    second_tab.cookies = alice_client.cookies  # a tab shares the browser's cookies
    assert shown_key(second_tab) == key_a

    other_browser = Client()
    sign_in(other_browser, alice.email)
    assert other_browser.get(SETUP).status_code == 302
    assert shown_key(alice_client) == key_a

    response = alice_client.post(CONFIRM, {"code": wrong_code(key_a, frozen_clock)})
    assert response.status_code == 200
    assert b"That code is not right." in response.content
    assert shown_key(alice_client) == key_a
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    frozen_clock.advance(2)  # past the one-second wait after a wrong code
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_a)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice) == key_a


def test_c12_fresh_asks_for_a_new_key_and_the_old_pending_key_no_longer_confirms(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """C12: only `fresh=1` (Get a new key instead) replaces the pending key."""
    start(alice_client)
    key_a = shown_key(alice_client)
    start(alice_client, fresh="1")
    key_b = shown_key(alice_client)
    assert key_b != key_a
    assert shown_key(alice_client) == key_b

    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_a)})
    assert response.status_code == 200
    assert b"That code is not right." in response.content
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    frozen_clock.advance(2)
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_b)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice) == key_b


def test_s38_pending_key_older_than_ten_minutes_is_replaced_and_confirm_says_expired(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S38/C12: the pending key lives 10 minutes; then the code page says it expired
    and Enable 2FA makes a new key."""
    start(alice_client)
    key_a = shown_key(alice_client)

    frozen_clock.advance(599)
    start(alice_client)
    assert shown_key(alice_client) == key_a  # still live just before ten minutes

    frozen_clock.advance(2)  # now 601 s old
    response = alice_client.get(CONFIRM, follow=True)
    assert response.redirect_chain == [(MANAGE, 302)]
    assert b"This 2FA setup has expired. Start again with Enable 2FA." in response.content
    response = alice_client.get(SETUP)
    assert response.status_code == 302 and response.url == MANAGE

    # A code of the expired key does not turn 2FA on.
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_a)}, follow=True)
    assert response.redirect_chain == [(MANAGE, 302)]
    assert b"has expired" in response.content
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    start(alice_client)
    key_b = shown_key(alice_client)
    assert key_b != key_a
    assert pending_key(alice) == key_b
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_b)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice) == key_b


def test_s38_expired_pending_key_is_discarded_from_storage(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S38: an abandoned pending key is discarded once expired (here: when the user
    comes back to the code page after more than ten minutes)."""
    start(alice_client)
    key_a = shown_key(alice_client)
    frozen_clock.advance(11 * 60)
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key_a)})
    assert response.status_code == 302 and response.url == MANAGE
    assert current_pending(alice) is None
    assert not PendingEnrolment.objects.filter(user=alice).exists(), (
        "the expired pending key is still stored"
    )


# --- wrong codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("wrong", b"That code is not right."),
        ("", b"Enter the 6-digit code from your authenticator app."),
        ("12345", b"Enter the 6-digit code: it has exactly 6 digits"),
        ("12a456", b"Enter the 6-digit code using the digits 0-9."),
    ],
)
def test_s36_wrong_enrolment_code_shows_the_message_and_changes_nothing(
    alice_client: Client,
    alice: User,
    frozen_clock: FrozenClock,
    typed: str,
    message: bytes,
) -> None:
    """S36: a refused enrolment code leaves 2FA off and the pending key as it was."""
    start(alice_client)
    key = shown_key(alice_client)
    before = PendingEnrolment.objects.get(user=alice)
    stamp = User.objects.get(pk=alice.pk).security_stamp
    mail.outbox.clear()
    code = wrong_code(key, frozen_clock) if typed == "wrong" else typed

    response = alice_client.post(CONFIRM, {"code": code})
    assert response.status_code == 200
    assert message in response.content
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
    after = PendingEnrolment.objects.get(user=alice)
    assert (after.encrypted_key, after.created_at) == (before.encrypted_key, before.created_at)
    assert User.objects.get(pk=alice.pk).security_stamp == stamp
    assert not SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_ENABLED).exists()
    assert mail.outbox == []
    assert b"Two-factor authentication is disabled." in alice_client.get(MANAGE).content


def test_c14_s36_wrong_code_then_leave_login_asks_only_password_and_admin_sees_off(
    alice_client: Client, alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """C14: Enable 2FA, a wrong code, leave: no 2FA at login nor in Manage users."""
    admin = make_user("olga@example.com", full_name="Olga Admin", role=User.Role.OFFICE_ADMIN)
    start(alice_client)
    key = shown_key(alice_client)
    response = alice_client.post(CONFIRM, {"code": wrong_code(key, frozen_clock)})
    assert response.status_code == 200
    sign_out(alice_client)

    response = log_in_password(alice_client, alice.email)
    assert response.status_code == 302 and response.url == "/"
    assert alice_client.get("/").status_code == 200

    admin_client = Client()
    sign_in(admin_client, admin.email)
    page = admin_client.get(MANAGE_USERS).content.decode()
    assert "0 of 2 users have 2FA" in page
    alice_row = page.split(f'data-email="{alice.email}"')[1].split("</tr>")[0]
    assert '<span class="badge off">Off</span>' in alice_row


# --- S13: the enrolment code is used -------------------------------------------------------


def test_s13_enrolment_code_cannot_be_used_to_log_in_afterwards(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S13: the code that confirmed the key counts as used, as does any earlier step."""
    key = enrol(alice_client, frozen_clock)
    enrolment_code = frozen_clock.code(key)
    sign_out(alice_client)

    response = log_in_password(alice_client, alice.email)
    assert response.status_code == 302 and response.url == "/login/code/"
    response = alice_client.post("/login/code/", {"code": enrolment_code})
    assert response.status_code == 200
    assert b"That code has already been used." in response.content
    frozen_clock.advance(2)
    response = alice_client.post("/login/code/", {"code": frozen_clock.code(key, -1)})
    assert response.status_code == 200
    assert alice_client.get("/").status_code == 302

    frozen_clock.advance(30)
    response = alice_client.post("/login/code/", {"code": frozen_clock.code(key)})
    assert response.status_code == 302 and response.url == "/"


# --- C13 / S25: re-enrolment --------------------------------------------------------------


def test_c13_s25_reenrolment_keeps_the_old_key_until_the_new_one_is_confirmed(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C13/S25: set up a new phone, abandon it: the old key still logs in; confirm the
    new key: only the new key logs in."""
    alice = alice_with_totp
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    new_key = shown_key(verified_client)
    assert new_key != SEED20
    assert device_key(alice) == SEED20  # nothing replaced yet
    sign_out(verified_client)  # abandoned

    # The unconfirmed key protects nothing and opens nothing.
    frozen_clock.advance(30)
    assert log_in_password(verified_client, alice.email).url == "/login/code/"
    response = verified_client.post("/login/code/", {"code": frozen_clock.code(new_key)})
    assert response.status_code == 200
    assert verified_client.get("/").status_code == 302
    frozen_clock.advance(30)
    response = verified_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"

    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    abandoned, new_key = new_key, shown_key(verified_client)
    # A new session never takes over a key shown to an earlier one: it gets its own.
    assert new_key not in (abandoned, SEED20)
    frozen_clock.advance(30)
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(abandoned)})
    assert response.status_code == 200 and device_key(alice) == SEED20
    frozen_clock.advance(2)  # past the growing wait after that wrong code
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(new_key)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice) == new_key
    event = SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_ENABLED).get()
    assert "replaced" in event.reason
    sign_out(verified_client)

    frozen_clock.advance(30)
    response = log_in_password(verified_client, alice.email)
    assert response.url == "/login/code/"
    response = verified_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 200
    assert b"That code is not right." in response.content
    frozen_clock.advance(2)
    response = verified_client.post("/login/code/", {"code": frozen_clock.code(new_key)})
    assert response.status_code == 302 and response.url == "/"


@pytest.mark.parametrize(
    ("password", "code", "told"),
    [
        (None, "next", "Enter your password and the code from your app to set up a new phone."),
        ("", "next", "Enter your password and the code from your app to set up a new phone."),
        ("not my password", "next", "That password is not right. Nothing was changed."),
        (PASSWORD, "", "Enter the 6-digit code from your authenticator app."),
        (PASSWORD, "000000", "That code is not right. Enter the newest code"),
        (PASSWORD, "used", "That code has already been used."),
        (PASSWORD, "aaaa-bbbb-cccc-dddd", "That recovery code is not right, or it was already"),
    ],
)
def test_s37_setting_up_a_new_phone_needs_the_password_and_the_current_code(
    verified_client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
    password: str | None,
    code: str,
    told: str,
) -> None:
    """S37: with 2FA on, Enable 2FA (a new phone) shows no key without the password and
    the current code (or a recovery code): authentication at the account's level (D1)."""
    used = frozen_clock.code(SEED20)  # the sign-in's code
    frozen_clock.advance(30)
    typed = {"next": frozen_clock.code(SEED20), "used": used}.get(code, code)
    data = {"code": typed} if password is None else {"password": password, "code": typed}
    response = verified_client.post(START, data, follow=True)
    assert response.redirect_chain == [(MANAGE, 302)]
    assert told in response.content.decode()
    assert not PendingEnrolment.objects.filter(user=alice_with_totp).exists()
    assert verified_client.get(SETUP).status_code == 302
    assert device_key(alice_with_totp) == SEED20


def test_s46_s37_wrong_passwords_for_a_new_phone_count_like_wrong_passwords_to_disable(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S46/S37: the password that unlocks "Set up a new phone" must be checked under the
    same guessing limits as the password of Disable 2FA. Otherwise a stolen session can
    guess the password without limit here, then bind its own authenticator. Five wrong
    passwords within five minutes (the per-account cap): each is counted, and then even
    the right password shows no new key."""
    alice = alice_with_totp
    for _ in range(5):
        frozen_clock.advance(20)  # past each growing wait, still inside five minutes
        code = frozen_clock.code(SEED20)
        response = verified_client.post(START, {"password": "not my password", "code": code})
        assert response.status_code == 302 and response.url == MANAGE
    assert not PendingEnrolment.objects.filter(user=alice).exists()
    assert CodeFailure.objects.filter(user=alice).count() == 5, "wrong passwords not counted"
    frozen_clock.advance(20)
    response = verified_client.post(
        START, {"password": PASSWORD, "code": frozen_clock.code(SEED20)}
    )
    assert not PendingEnrolment.objects.filter(user=alice).exists()
    assert device_key(alice) == SEED20


# --- C15 / S20: the key ------------------------------------------------------------------


def test_c15_s20_key_is_20_bytes_32_uppercase_chars_and_keys_differ(
    alice_client: Client, alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """C15/S20/S34: 32 base32 characters, upper case, no '=', 20 bytes; never shared."""
    start(alice_client)
    setup = alice_client.get(SETUP)
    shown = key_from_page(setup.content).replace(" ", "")
    assert len(shown) == 32
    assert "=" not in shown and shown == shown.upper()
    assert set(shown) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    key = base64.b32decode(shown)
    assert len(key) == 20
    uri = key_for_display(alice, PendingEnrolment.objects.get(user=alice)).uri
    assert parse_qs(urlsplit(uri).query)["secret"] == [shown]

    bob = make_user("bob@example.com", full_name="Bob Example")
    bob_client = Client()
    sign_in(bob_client, bob.email)
    start(bob_client)
    bob_key = shown_key(bob_client)
    assert len(bob_key) == 20 and bob_key != key

    seen = {key, bob_key}
    for _ in range(10):
        start(alice_client, fresh="1")
        fresh = shown_key(alice_client)
        assert len(fresh) == 20
        seen.add(fresh)
    assert len(seen) == 12


# --- C16 / C17: names, long issuer and email, the QR code --------------------------------


def percent_encoded_utf8(text: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 bytes, everything but unreserved characters."""
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return "".join(
        ch if ch in unreserved else "".join(f"%{b:02X}" for b in ch.encode("utf-8")) for ch in text
    )


@pytest.mark.parametrize(
    ("full_name", "email"),
    [
        ("Jürgen Müller", "jürgen@bücher.example"),
        ("宮腰悠希", "宮腰悠希@example.jp"),
        ("Zoë 🦊 Fuchs 👩🏽‍💻", "zoe🦊@example.com"),
    ],
)
def test_c16_non_ascii_names_render_and_the_uri_label_is_percent_encoded_utf8(
    make_user: Callable[..., User], frozen_clock: FrozenClock, full_name: str, email: str
) -> None:
    """C16: setup works for non-ASCII users; label = issuer:account, UTF-8 percent-encoded;
    the page's QR code holds exactly that URI."""
    user = make_user(email, full_name=full_name)
    client = Client()
    sign_in(client, email)
    assert escape(full_name).encode() in client.get("/").content

    start(client)
    setup = client.get(SETUP)
    assert setup.status_code == 200
    assert escape(email).encode() in setup.content
    uri = key_for_display(user, PendingEnrolment.objects.get(user=user)).uri
    assert uri.isascii() and " " not in uri and "+" not in uri
    label = uri.removeprefix("otpauth://totp/").split("?")[0]
    assert label == "Twostep:" + percent_encoded_utf8(email)
    assert unquote(label, encoding="utf-8", errors="strict") == f"Twostep:{email}"
    if email.startswith("jürgen"):
        assert label == "Twostep:j%C3%BCrgen%40b%C3%BCcher.example"
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    assert secret == key_from_page(setup.content).replace(" ", "")
    rendered_qr_matches(setup.content, uri)

    key = base64.b32decode(secret)
    response = client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 302 and response.url == DONE


ISSUER_60 = "Mueller & Partner Steuerberatung Mandantenportal Hamburg Ost"
DOMAIN = "@kanzlei-example.de"
EMAIL_60 = "annemarie.mustermann-schulze.buchhaltung".ljust(60 - len(DOMAIN), "x") + DOMAIN


def test_c17_s33_long_issuer_and_email_still_render_a_complete_qr_code(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """C17/S33: 60-character issuer and email: the page renders the key and a QR code with
    a 4-module quiet zone holding the short URI (no default parameters)."""
    issuer, email = ISSUER_60, EMAIL_60
    assert len(issuer) == 60 and len(email) == 60
    user = make_user(email, full_name="Annemarie Mustermann-Schulze")
    client = Client()
    sign_in(client, email)
    with override_settings(TWOSTEP_ISSUER=issuer):
        start(client)
        setup = client.get(SETUP)
        assert setup.status_code == 200
        uri = key_for_display(user, PendingEnrolment.objects.get(user=user)).uri
    assert escape(issuer).encode() in setup.content
    assert escape(email).encode() in setup.content
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert set(query) == {"secret", "issuer"}  # SHA1/6/30 left out
    assert query["issuer"] == [issuer]
    assert unquote(parts.path.lstrip("/")) == f"{issuer}:{email}"
    assert len(key_from_page(setup.content).replace(" ", "")) == 32  # typed key shown too

    matrix = qr_matrix_from_svg(qr_svg_from_page(setup.content))
    size = len(matrix)
    assert (size - 8 - 17) % 4 == 0  # a QR version's size plus the border
    for i in range(4):
        assert not any(matrix[i]) and not any(matrix[size - 1 - i])
        assert not any(row[i] or row[size - 1 - i] for row in matrix)
    assert matrix[4][4] and matrix[4][size - 5] and matrix[size - 5][4]  # finder corners
    rendered_qr_matches(setup.content, uri)


# --- C02: not while the code is still owed ------------------------------------------------


def test_c02_pending_session_cannot_start_or_confirm_enrolment(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C02: after the password only, Enable 2FA and confirming a key of one's own choice
    go to the login; alice's 2FA is unchanged and the session is still pending."""
    alice = alice_with_totp
    before = TwoFactorDevice.objects.get(user=alice)
    own_key = b"attacker-chosen-key!"
    for url, data in [
        (START, {}),
        (START, {"fresh": "1", "password": PASSWORD}),
        (CONFIRM, {"code": frozen_clock.code(own_key)}),
        (CONFIRM, {"code": frozen_clock.code(SEED20)}),
    ]:
        response = pending_client.post(url, data)
        assert response.status_code == 302, url
        assert response.url.startswith("/login/?next="), response.url
    for url in (SETUP, CONFIRM, DONE, MANAGE):
        response = pending_client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url

    after = TwoFactorDevice.objects.get(user=alice)
    assert (after.encrypted_key, after.confirmed_at, after.last_used_step) == (
        before.encrypted_key,
        before.confirmed_at,
        before.last_used_step,
    )
    assert not PendingEnrolment.objects.filter(user=alice).exists()
    assert not SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_ENABLED).exists()

    # Still pending: the login page sends back to the code step, which still works.
    response = pending_client.get("/login/")
    assert response.status_code == 302 and response.url == "/login/code/"
    assert pending_client.get("/login/code/").status_code == 200
    response = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"
    assert pending_client.get("/").status_code == 200


# --- S21 / S23 / C20: the key stays hidden --------------------------------------------------


def test_s21_stored_keys_are_encrypted_and_bound_to_their_user(
    alice_client: Client, alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """S21: neither the pending nor the confirmed row holds the key in any spelling;
    a sealed key copied to another user does not open."""
    start(alice_client)
    pending_row = PendingEnrolment.objects.get(user=alice).encrypted_key
    key = shown_key(alice_client)
    assert_no_key(pending_row, key, "PendingEnrolment.encrypted_key")
    assert_no_key(database_dump(), key, "database while pending")

    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 302
    stored = TwoFactorDevice.objects.get(user=alice).encrypted_key
    key_id, sep, body = stored.partition("$")
    assert sep == "$" and key_id.isalnum() and body
    assert_no_key(stored, key, "TwoFactorDevice.encrypted_key")
    assert_no_key(database_dump(), key, "database after enrolment")
    assert unseal(alice.pk, stored) == key

    bob = make_user("bob@example.com", full_name="Bob Example")
    with pytest.raises(KeyRingError):
        unseal(bob.pk, stored)


def test_s23_setup_and_code_pages_are_not_cached(
    alice_client: Client, frozen_clock: FrozenClock
) -> None:
    """S23: the pages that show the key or take its code send Cache-Control: no-store."""
    start(alice_client)
    for url in (SETUP, CONFIRM, MANAGE):
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url
    key = shown_key(alice_client)
    response = alice_client.post(CONFIRM, {"code": frozen_clock.code(key)})
    assert response["Cache-Control"] == "no-store"
    assert alice_client.get(DONE)["Cache-Control"] == "no-store"


def test_c20_s24_no_page_shows_the_key_after_enrolment(
    alice_client: Client, alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """C20/S24/S56: after enrolment the key is on no page: Manage 2FA, home, the setup
    URLs, Manage users, the helpdesk page, the Django admin; nor in an email."""
    admin = make_user("olga@example.com", full_name="Olga Admin", role=User.Role.OFFICE_ADMIN)
    make_enrolled_agent("agent@example.com")
    root = User.objects.create_superuser("root@example.com", PASSWORD, full_name="Root Operator")
    enable_two_factor(root, ROOT_KEY)
    key = enrol(alice_client, frozen_clock)
    assert alice_client.get(DONE).status_code == 200

    pages: list[tuple[str, Client, str, int]] = [
        ("alice", alice_client, MANAGE, 200),
        ("alice", alice_client, "/", 200),
        ("alice", alice_client, SETUP, 302),
        ("alice", alice_client, CONFIRM, 302),
        ("alice", alice_client, DONE, 302),
    ]
    admin_client, agent_client, root_client = Client(), Client(), Client()
    sign_in(admin_client, admin.email)
    sign_in_with_code(agent_client, "agent@example.com", AGENT_KEY, frozen_clock)
    sign_in_with_code(root_client, "root@example.com", ROOT_KEY, frozen_clock)
    pages += [
        ("admin", admin_client, MANAGE_USERS, 200),
        ("admin", admin_client, MANAGE_USERS + "?twofa=on", 200),
        ("agent", agent_client, f"/helpdesk/users/{alice.pk}/", 200),
        ("root", root_client, "/django-admin/accounts/user/", 200),
        ("root", root_client, f"/django-admin/accounts/user/{alice.pk}/change/", 200),
    ]
    for who, client, url, status in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, (who, url)
        first = response.redirect_chain[0][1] if response.redirect_chain else 200
        assert first == status, (who, url, response.redirect_chain)
        assert_no_key(response.content, key, f"{url} as {who}")
        assert b"otpauth" not in response.content, url
        assert b"twofa-key" not in response.content, url

    # The admin pages do show the status (on, since) - just not the key.
    listing = admin_client.get(MANAGE_USERS + "?twofa=on").content.decode()
    assert f'data-email="{alice.email}"' in listing and "18 Mar 2005" in listing
    changelist = root_client.get("/django-admin/accounts/user/").content.decode()
    assert alice.email in changelist
    assert "icon-yes" in changelist
    # The 2FA tables themselves are not browsable in the Django admin.
    assert root_client.get("/django-admin/twofactor/twofactordevice/").status_code == 404
    for message in mail.outbox:
        assert_no_key(message.subject + message.body, key, "email")


# --- S48: other sessions -------------------------------------------------------------------


def test_s48_enabling_signs_out_other_sessions_and_keeps_this_one(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S48: confirming the key rotates the security stamp: other sessions end."""
    other = Client()
    sign_in(other, alice.email)
    assert other.get("/").status_code == 200
    stamp = User.objects.get(pk=alice.pk).security_stamp

    enrol(alice_client, frozen_clock)
    assert User.objects.get(pk=alice.pk).security_stamp != stamp
    assert alice_client.get("/").status_code == 200
    assert alice_client.get(MANAGE).status_code == 200
    response = other.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_get_requests_never_enable(
    alice_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """Only POSTs change state: GET on start leads back to Manage 2FA, GET of the code page
    with a valid code in the query string does not turn 2FA on."""
    response = alice_client.get(START)
    assert response.status_code == 302 and response.url == MANAGE
    assert not PendingEnrolment.objects.filter(user=alice).exists()
    start(alice_client)
    key = shown_key(alice_client)
    response = alice_client.get(CONFIRM, {"code": frozen_clock.code(key)})
    assert response.status_code == 200
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
    assert otp.key_to_base32(pending_key(alice)) == otp.key_to_base32(key)
