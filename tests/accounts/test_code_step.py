"""The code step of a login: what is accepted, what is refused, and what is told and recorded.

Valid codes at t=1111111111 with SEED20 (steps -1..+1): 081804, 050471, 266759.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client

from tests.accounts.conftest import (
    BOB_KEY,
    alert,
    failures_of,
    is_pending,
    is_signed_in,
    last_used_step,
    post_code,
    window_codes,
)
from tests.conftest import SEED20, FrozenClock, log_in_password
from twostep import otp
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.models import GuessingState, PendingEnrolment, TwoFactorDevice
from twostep.twofactor.storage import unseal

T0 = 1111111111
WRONG = "That code is not right."
REPLAYED = "That code has already been used. Wait for the next code"
SIX_DIGITS = "Enter the 6-digit code: it has exactly 6 digits"
ASCII_DIGITS = "Enter the 6-digit code using the digits 0-9."


def log_in(client: Client, user: User, code: str) -> None:
    """Password, then code; asserts that it ends signed in."""
    assert log_in_password(client, user.email).url == "/login/code/"
    response = post_code(client, code)
    assert response.status_code == 302, alert(response)
    assert is_signed_in(client)


def log_out(client: Client) -> None:
    assert client.post("/logout/").url == "/login/"
    assert not is_signed_in(client)


def assert_refused(client: Client, response, message: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert message in alert(response), alert(response)
    assert not is_signed_in(client)
    assert is_pending(client)


# --- C03: codes that must never work ---------------------------------------------------


@pytest.mark.parametrize("which", ["000000", "999999", "", "current+1"])
def test_c03_codes_that_are_not_the_current_code_are_refused(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock, which: str
) -> None:
    """C03: 000000, 999999, an empty code and (code(T0)+1) mod 10^6 are refused and counted."""
    code = which
    if which == "current+1":
        code = f"{(int(frozen_clock.code(SEED20)) + 1) % 10**6:06d}"
        assert code == "050472"
    assert code not in window_codes(frozen_clock)
    response = post_code(pending_client, code)
    assert response.status_code == 200
    assert alert(response)
    assert not is_signed_in(pending_client)
    assert is_pending(pending_client)
    assert failures_of(alice_with_totp) == 1
    assert last_used_step(alice_with_totp) == 0


# --- one code, one use -----------------------------------------------------------------


def test_c05_replay_is_refused_with_a_message_to_wait_for_the_next_code(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C05 as written: code(T0) at T0+5 works once; again at T0+10 refused; code(T0+30) at
    T0+35 works; code(T0) at T0+40 refused (older than the last accepted step)."""
    code_t0 = frozen_clock.code(SEED20)
    assert code_t0 == "050471"

    frozen_clock.set(T0 + 5)
    log_in(client, alice_with_totp, code_t0)
    log_out(client)

    frozen_clock.set(T0 + 10)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, code_t0), REPLAYED)
    log_out(client)

    frozen_clock.set(T0 + 35)
    code_t30 = otp.code_at_step(SEED20, otp.time_step(T0 + 30))
    assert code_t30 == "266759"
    log_in(client, alice_with_totp, code_t30)
    log_out(client)

    frozen_clock.set(T0 + 40)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, code_t0), REPLAYED)


def test_s11_a_code_is_accepted_once_even_from_another_browser_and_address(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S11: 050471 signs in; a second browser on another address cannot use it again."""
    first = Client(REMOTE_ADDR="192.0.2.1")
    log_in(first, alice_with_totp, "050471")
    log_out(first)
    second = Client(REMOTE_ADDR="198.51.100.2", HTTP_USER_AGENT="Other browser")
    log_in_password(second, alice_with_totp.email)
    assert_refused(second, post_code(second, "050471"), REPLAYED)


def test_s12_steps_at_or_before_the_last_accepted_one_are_refused(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S12: after 050471 (step T), 081804 (T-1, inside the window) is refused, 266759 (T+1)
    is accepted."""
    log_in(client, alice_with_totp, "050471")
    log_out(client)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, "081804"), REPLAYED)
    frozen_clock.advance(1)  # the 1-second wait after a failure
    assert post_code(client, "266759").url == "/"
    assert last_used_step(alice_with_totp) == otp.time_step(T0) + 1


def test_s13_the_enrolment_code_cannot_sign_in_again(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """S13: the code that confirmed the enrolment is used; the next step's code works."""
    log_in_password(client, alice.email)
    assert is_signed_in(client)
    assert client.post("/account/2fa/enable/").status_code == 302
    key = unseal(alice.pk, PendingEnrolment.objects.get(user=alice).encrypted_key)
    enrolment_code = frozen_clock.code(key)
    response = client.post("/account/2fa/enable/code/", {"code": enrolment_code})
    assert response.status_code == 302 and response.url == "/account/2fa/enable/done/"
    assert TwoFactorDevice.objects.filter(user=alice).exists()
    log_out(client)

    log_in_password(client, alice.email)
    assert_refused(client, post_code(client, enrolment_code), REPLAYED)
    frozen_clock.advance(30)
    assert post_code(client, frozen_clock.code(key)).url == "/"


def test_s14_client_supplied_time_is_ignored(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S14: the code for t=59 (287082) with `time=59` and a 1970 Date header is refused."""
    response = pending_client.post(
        "/login/code/",
        {"code": "287082", "time": "59", "timestamp": "59", "now": "59"},
        headers={"Date": "Thu, 01 Jan 1970 00:00:59 GMT"},
    )
    assert_refused(pending_client, response, WRONG)
    assert failures_of(alice_with_totp) == 1
    frozen_clock.advance(1)
    assert post_code(pending_client, frozen_clock.code(SEED20)).url == "/"


def test_s41_another_users_current_code_is_refused(
    pending_client: Client,
    alice_with_totp: User,
    bob_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    """S41: pending as alice, Bob's current code (and a forged user_id) do not sign in."""
    bob_code = frozen_clock.code(BOB_KEY)
    assert bob_code not in window_codes(frozen_clock)
    response = pending_client.post(
        "/login/code/", {"code": bob_code, "user_id": bob_with_totp.pk, "email": "bob@example.com"}
    )
    assert_refused(pending_client, response, WRONG)
    assert failures_of(alice_with_totp) == 1 and failures_of(bob_with_totp) == 0
    assert last_used_step(bob_with_totp) == 0
    frozen_clock.advance(1)
    response = pending_client.post(
        "/login/code/", {"code": frozen_clock.code(SEED20), "user_id": bob_with_totp.pk}
    )
    assert response.url == "/"
    assert int(pending_client.session["_auth_user_id"]) == alice_with_totp.pk


@pytest.mark.parametrize(("code", "accepted"), [
    ("731029", False), ("081804", True), ("050471", True), ("266759", True), ("306183", False),
])  # fmt: skip
def test_s09_only_one_step_either_side_is_accepted(
    pending_client: Client, frozen_clock: FrozenClock, code: str, accepted: bool
) -> None:
    """S09 at the code step: steps -1, 0, +1 accepted; -2 and +2 refused (with a clock hint:
    they are right one minute away)."""
    response = post_code(pending_client, code)
    if accepted:
        assert response.status_code == 302 and response.url == "/"
    else:
        assert_refused(pending_client, response, "That code is not right now.")
        assert "clock seems to be about 1 minute" in alert(response)


# --- C07: leading zeros and length -----------------------------------------------------


@pytest.mark.parametrize(("typed", "accepted"), [
    ("081804", True), ("81804", False), ("0081804", False), ("81804 ", False),
])  # fmt: skip
def test_c07_leading_zero_code_at_1111111109(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock, typed: str, accepted: bool
) -> None:
    """C07: at t=1111111109 `081804` is accepted as typed; `81804` and `0081804` are
    refused as a format error ("6-digit"), never read as the number 81804."""
    frozen_clock.set(1111111109)
    assert frozen_clock.code(SEED20) == "081804"
    log_in_password(client, alice_with_totp.email)
    response = post_code(client, typed)
    if accepted:
        assert response.status_code == 302 and response.url == "/"
        assert is_signed_in(client)
    else:
        assert_refused(client, response, SIX_DIGITS)
        assert failures_of(alice_with_totp) == 1
        assert last_used_step(alice_with_totp) == 0


def test_c07_double_leading_zero_code_is_accepted(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C07: at t=1234567890 `005924` is accepted as typed."""
    frozen_clock.set(1234567890)
    log_in_password(client, alice_with_totp.email)
    assert post_code(client, "005924").url == "/"


# --- C08 / C09: what a typed code may look like ----------------------------------------

ODD_INPUTS = [
    pytest.param("０５０４７１", ASCII_DIGITS, id="full-width"),
    pytest.param("05047１", ASCII_DIGITS, id="mixed"),
    pytest.param("٠٥٠٤٧١", ASCII_DIGITS, id="arabic-indic"),
    pytest.param("●●●●●●", ASCII_DIGITS, id="dots"),
    pytest.param("\x00\x00\x00\x00\x00\x00", ASCII_DIGITS, id="nul-bytes"),
    pytest.param("050\x00471", ASCII_DIGITS, id="nul-inside"),
    pytest.param("05a471", ASCII_DIGITS, id="letter"),
    pytest.param("1" * 10240, SIX_DIGITS, id="10kB"),
    pytest.param("050471" + " " * 10240, SIX_DIGITS, id="10kB-of-spaces"),
]


@pytest.mark.parametrize(("typed", "message"), ODD_INPUTS)
def test_c08_odd_input_gets_a_clear_message_and_counts(
    pending_client: Client, alice_with_totp: User, typed: str, message: str
) -> None:
    """C08/C09: never a server error; one policy (refuse non-ASCII digits); counted."""
    response = post_code(pending_client, typed)
    assert_refused(pending_client, response, message)
    assert failures_of(alice_with_totp) == 1
    assert last_used_step(alice_with_totp) == 0


@pytest.mark.parametrize(
    "typed",
    ["050 471", "050-471", "050\u00a0471", " 050471 ", "05 04 71", "050\u2011471", "050471\n"],
)
def test_c09_separators_are_ignored(
    pending_client: Client, alice_with_totp: User, typed: str
) -> None:
    """C09/S35: spaces, dashes and no-break spaces around or inside the code are removed."""
    response = post_code(pending_client, typed)
    assert response.status_code == 302 and response.url == "/"
    assert is_signed_in(pending_client)
    assert failures_of(alice_with_totp) == 0


def test_s35_a_separated_code_counts_against_replay_like_the_plain_one(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S35/S11: after `050 471` signed in, `050471` is a replay."""
    log_in(client, alice_with_totp, "050 471")
    log_out(client)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, "050471"), REPLAYED)


# --- S19: the email after a refused code ----------------------------------------------


def _key_forms(key: bytes) -> list[str]:
    return [
        key.decode("latin-1"),
        key.hex(),
        otp.key_to_base32(key),
        otp.group_for_typing(otp.key_to_base32(key)),
    ]


def test_s19_first_refused_code_sends_one_email_without_the_code(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S19: one email at the first refused code after the password; none for the rest of the
    streak; a new streak after a correct code sends a new one."""
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Evil/1.0")
    log_in_password(client, alice_with_totp.email)
    assert mail.outbox == []
    assert_refused(client, post_code(client, "000000"), WRONG)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [alice_with_totp.email]
    body = email.body
    assert "someone may know your password" in body.lower()
    assert "18 March 2005, 01:58" in body  # t=1111111111, UTC
    assert "203.0.113.9" in body
    for secret in ["000000", *window_codes(frozen_clock), *_key_forms(SEED20)]:
        assert secret not in body and secret not in email.subject, secret

    frozen_clock.advance(1)
    assert_refused(client, post_code(client, "123456"), WRONG)
    frozen_clock.advance(2)
    assert_refused(client, post_code(client, "0000"), SIX_DIGITS)
    log_in_password(Client(), alice_with_totp.email)  # a new login: still the same streak
    frozen_clock.advance(4)
    assert_refused(client, post_code(client, "999999"), WRONG)
    assert len(mail.outbox) == 1

    frozen_clock.advance(8)
    assert post_code(client, frozen_clock.code(SEED20)).url == "/"
    log_out(client)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, "000000"), WRONG)
    assert len(mail.outbox) == 2


# --- S58: audit events ------------------------------------------------------------------


@pytest.fixture
def security_log() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    logger = logging.getLogger("twostep")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


LOCKED_NOW = "the code step of this account is locked"


def test_s58_code_events_carry_address_and_agent_and_no_secret(
    alice_with_totp: User, frozen_clock: FrozenClock, security_log: list[str]
) -> None:
    """S58: refused, accepted and lock events with client address and user agent; no
    event field (nor log line) holds a typed code, a valid code or the key."""
    ua = "Mozilla/5.0 (Audit test)"
    client = Client(REMOTE_ADDR="203.0.113.50", HTTP_USER_AGENT=ua)
    typed = ["123456", "050472"]
    secrets = set(typed) | window_codes(frozen_clock)

    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, typed[0]), WRONG)
    frozen_clock.advance(1)
    assert post_code(client, frozen_clock.code(SEED20)).url == "/"
    log_out(client)

    # Bring alice to 99 consecutive failures, then the 100th over HTTP locks the code step.
    GuessingState.objects.filter(user=alice_with_totp).update(
        consecutive_failures=99, last_failure_at=None
    )
    frozen_clock.advance(60)
    secrets |= window_codes(frozen_clock)
    log_in_password(client, alice_with_totp.email)
    assert_refused(client, post_code(client, typed[1]), LOCKED_NOW)  # said at once

    for kind in (EventKind.CODE_REFUSED, EventKind.CODE_ACCEPTED, EventKind.CODE_STEP_LOCKED):
        events = SecurityEvent.objects.filter(kind=kind, subject=alice_with_totp)
        assert events.exists(), kind
        for event in events:
            assert event.client_address == "203.0.113.50"
            assert event.user_agent == ua
    assert SecurityEvent.objects.filter(kind=EventKind.CODE_REFUSED).count() == 2
    assert SecurityEvent.objects.filter(kind=EventKind.CODE_STEP_LOCKED).count() == 1

    forbidden = secrets | set(_key_forms(SEED20))
    for event in SecurityEvent.objects.all():
        for field in event._meta.concrete_fields:
            value = str(field.value_from_object(event))
            for secret in forbidden:
                assert secret not in value, (event.kind, field.name, secret)
    assert security_log, "the security logger wrote nothing"
    for line in security_log:
        for secret in forbidden:
            assert secret not in line, (line, secret)
