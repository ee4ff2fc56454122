"""Guessing limits on codes (standards "Guessing limits", S15-S19, C11).

Numbers (twostep.twofactor.limits): a wait of 2^(n-1) s (at most 300 s) after the n-th
consecutive failure; per account 5 / 5 min, 20 / hour, 50 / day; lock at 100 consecutive
failures or 100 within 30 days; per address 10 / 5 min, 50 / hour. A refused-by-limit
attempt is not evaluated and not counted.

Long simulations call the one verifier (``check_login_code``) directly with the frozen
clock; the HTTP tests check that the view shows what the verifier decides.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client as WebClient

from tests.conftest import SEED20, FrozenClock, enable_two_factor, log_in_password
from twostep import otp
from twostep.accounts.models import Office, User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.http import Client
from twostep.twofactor import limits
from twostep.twofactor.models import CodeFailure, GuessingState, TwoFactorDevice
from twostep.twofactor.outcomes import CodeCheck, CodeOutcome
from twostep.twofactor.verification import check_login_code
from twostep.waits import wait_phrase

LOCKED_MESSAGE = "the code step of this account is locked. Contact the helpdesk"
_ALERT = re.compile(r'<p class="field-error"[^>]*role="alert">(.*?)</p>', re.S)
_addresses = itertools.count(1)


def fresh_address() -> str:
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def code_error(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    found = _ALERT.findall(response.content.decode())
    assert len(found) == 1, found
    return str(found[0]).replace("&#x27;", "'")


def wait_in(message: str) -> str:
    """The wait as the page says it ("4 seconds", "5 minutes"); compare with said(seconds)."""
    match = re.search(r"\bwait (\d+ (?:seconds?|minutes?|hours?))\b", message, re.IGNORECASE)
    assert match, message
    return match.group(1)


said = wait_phrase


def state_of(user: User) -> GuessingState:
    return GuessingState.objects.get(user=user)


def failures_of(user: User) -> int:
    return CodeFailure.objects.filter(user=user).count()


def wrong_code(clock: FrozenClock, key: bytes = SEED20) -> str:
    valid = {clock.code(key, offset) for offset in (-1, 0, 1)}
    return next(c for c in (f"{i:06d}" for i in range(10)) if c not in valid)


class Guesser:
    """Submits codes for one user through the verifier, sitting out waits when told to."""

    def __init__(self, user: User, clock: FrozenClock, address: str | None = None) -> None:
        self.user = user
        self.clock = clock
        self.address = address  # None: a new address for every attempt
        self.failed_at: list[datetime] = []

    def client(self) -> Client:
        return Client(self.address or fresh_address(), "pytest")

    def attempt(self, code: str) -> CodeCheck:
        return check_login_code(self.user, code, self.client())

    def fail(self) -> CodeCheck:
        """One evaluated wrong guess (or LOCKED), after any wait the limits impose."""
        for _ in range(10):
            check = self.attempt(wrong_code(self.clock))
            if check.outcome is CodeOutcome.WAIT:
                assert check.wait_seconds > 0
                self.clock.advance(check.wait_seconds)
                continue
            assert check.outcome in {CodeOutcome.WRONG_CODE, CodeOutcome.LOCKED}, check
            if check.outcome is CodeOutcome.WRONG_CODE:
                self.failed_at.append(self.clock.now)
            return check
        raise AssertionError("still told to wait after 10 tries")

    def succeed(self) -> None:
        """Sign in with the right code (a new time step if needed), after any wait."""
        for _ in range(10):
            used = TwoFactorDevice.objects.get(user=self.user).last_used_step
            step = otp.time_step(self.clock.unix)
            if step <= used:
                self.clock.set((used + 1) * otp.STEP_SECONDS)
            check = self.attempt(self.clock.code(SEED20))
            if check.outcome is CodeOutcome.WAIT:
                self.clock.advance(check.wait_seconds)
                continue
            assert check.outcome is CodeOutcome.ACCEPTED, check
            return
        raise AssertionError("still told to wait after 10 tries")


@pytest.fixture
def quick_user(office: Office, frozen_clock: FrozenClock) -> Callable[[str], User]:
    """A user with 2FA (SEED20) and no password hash: for verifier-level simulations."""

    def make(email: str) -> User:
        user = User.objects.create(email=email, full_name=email, office=office)
        enable_two_factor(user)
        return user

    return make


# --- the growing wait ------------------------------------------------------------------


def test_growing_wait_doubles_up_to_five_minutes() -> None:
    """S17 / Guessing limits: 1, 2, 4 ... seconds after consecutive failures, at most 300 s."""
    waits = [limits.growing_wait(n) for n in range(13)]
    assert waits == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert limits.MAX_WAIT_SECONDS == 300


@pytest.mark.parametrize("consecutive", [1, 2, 5, 9, 10, 50])
def test_growing_wait_is_enforced_from_the_last_failure(
    alice_with_totp: User, frozen_clock: FrozenClock, consecutive: int
) -> None:
    """S17: the wait counts from the last failure, whatever the number of failures."""
    GuessingState.objects.create(
        user=alice_with_totp, consecutive_failures=consecutive, last_failure_at=frozen_clock.now
    )
    with transaction.atomic():
        allowance = limits.check(limits.locked_state(alice_with_totp), "", frozen_clock.now)
    assert not allowance.allowed
    assert allowance.wait_seconds == min(2 ** (consecutive - 1), 300)


def test_s17_attempts_during_the_wait_are_not_evaluated_nor_counted(
    pending_client: WebClient, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S17: after a failure, even the right code inside the wait gets "Wait N seconds", is
    not evaluated (the code stays unused) and not counted; the wait doubles."""
    right = frozen_clock.code(SEED20)
    assert "not right" in code_error(pending_client.post("/login/code/", {"code": "000000"}))

    for expected_wait, failures in ((1, 1), (2, 2), (4, 3)):
        message = code_error(pending_client.post("/login/code/", {"code": right}))
        assert wait_in(message) == said(expected_wait)
        assert failures_of(alice_with_totp) == failures
        assert state_of(alice_with_totp).consecutive_failures == failures
        assert SecurityEvent.objects.filter(kind=EventKind.CODE_REFUSED).count() == failures
        assert TwoFactorDevice.objects.get(user=alice_with_totp).last_used_step == 0
        if expected_wait > 1:
            frozen_clock.advance(1)
            message = code_error(pending_client.post("/login/code/", {"code": "000000"}))
            assert wait_in(message) == said(expected_wait - 1)
            frozen_clock.advance(expected_wait - 1)
        else:
            frozen_clock.advance(1)
        if failures < 3:
            pending_client.post("/login/code/", {"code": "000000"})
    assert failures_of(alice_with_totp) == 3
    assert len(mail.outbox) == 1  # only the first refused code of the streak is emailed

    response = pending_client.post("/login/code/", {"code": right})  # not consumed earlier
    assert response.status_code == 302 and response.url == "/"


# --- per-account windows --------------------------------------------------------------


def test_at_most_five_failures_in_five_minutes(
    pending_client: WebClient, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S15 / Guessing limits: the 6th attempt within 5 minutes waits for the oldest failure
    to leave the window (not evaluated meanwhile)."""
    start = frozen_clock.unix
    for offset in (0, 1, 3, 7, 15):  # each just after the growing wait
        frozen_clock.set(start + offset)
        assert "not right" in code_error(pending_client.post("/login/code/", {"code": "000000"}))
    frozen_clock.set(start + 31)  # past the 16-second wait
    message = code_error(pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)}))
    assert wait_in(message) == said(300 - 31)
    assert failures_of(alice_with_totp) == 5

    guesser = Guesser(alice_with_totp, frozen_clock)
    frozen_clock.set(start + 299)
    check = guesser.attempt(frozen_clock.code(SEED20))
    assert check.outcome is CodeOutcome.WAIT and check.wait_seconds == 1
    frozen_clock.set(start + 300)
    assert guesser.attempt(frozen_clock.code(SEED20)).outcome is CodeOutcome.ACCEPTED


def test_at_most_twenty_failures_in_an_hour(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """S15 / Guessing limits: 20 failures an hour; correct codes in between do not help."""
    guesser = Guesser(quick_user("carol@example.com"), frozen_clock)
    for block in range(5):
        for _ in range(4):  # 4, so that the right code is not held up by the 5-minute cap
            assert guesser.fail().outcome is CodeOutcome.WRONG_CODE
        if block < 4:
            guesser.succeed()  # resets the growing wait, not the windows
        frozen_clock.advance(301)  # the 5-minute window is empty again
    first = guesser.failed_at[0]
    assert len(guesser.failed_at) == 20 and frozen_clock.now - first < timedelta(hours=1)

    check = guesser.attempt(frozen_clock.code(SEED20))
    assert check.outcome is CodeOutcome.WAIT
    assert check.wait_seconds == math.ceil(
        (first + timedelta(hours=1) - frozen_clock.now).total_seconds()
    )
    assert check.wait_seconds > limits.MAX_WAIT_SECONDS
    assert failures_of(guesser.user) == 20  # the refused attempt was not counted
    frozen_clock.advance(check.wait_seconds)
    assert guesser.attempt(wrong_code(frozen_clock)).outcome is CodeOutcome.WRONG_CODE


def test_at_most_fifty_failures_in_a_day(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """S15 / Guessing limits: 50 failures a day, however the attempts are spread."""
    guesser = Guesser(quick_user("dave@example.com"), frozen_clock)
    while len(guesser.failed_at) < 50:
        assert guesser.fail().outcome is CodeOutcome.WRONG_CODE
        if len(guesser.failed_at) % 4 == 0:
            guesser.succeed()
            frozen_clock.advance(301)
    first = guesser.failed_at[0]
    assert len(guesser.failed_at) == 50 and frozen_clock.now - first < timedelta(days=1)

    check = guesser.attempt(wrong_code(frozen_clock))
    assert check.outcome is CodeOutcome.WAIT
    assert check.wait_seconds == math.ceil(
        (first + timedelta(days=1) - frozen_clock.now).total_seconds()
    )
    assert check.wait_seconds > 3600
    assert failures_of(guesser.user) == 50
    assert state_of(guesser.user).locked_at is None


def test_s17_a_correct_code_resets_the_consecutive_count_but_not_the_windows(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """S17: after 4 failures and a correct code the wait starts again at 1 s, but the
    5-minute window still holds the 4 failures: the 6th attempt waits for the window."""
    guesser = Guesser(quick_user("erin@example.com"), frozen_clock)
    for _ in range(4):
        guesser.fail()
    guesser.succeed()
    assert state_of(guesser.user).consecutive_failures == 0
    guesser.fail()  # no wait needed: consecutive count was reset
    assert state_of(guesser.user).consecutive_failures == 1
    frozen_clock.advance(1)  # the growing wait after 1 failure is over
    check = guesser.attempt(frozen_clock.code(SEED20))
    assert check.outcome is CodeOutcome.WAIT
    expected = guesser.failed_at[0] + timedelta(minutes=5) - frozen_clock.now
    assert check.wait_seconds == math.ceil(expected.total_seconds()) > 1


# --- the lock --------------------------------------------------------------------------


def test_s15_s16_lock_at_100_consecutive_failures_across_sessions(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S15/S16/C11: failures in one session, the rest after new logins from other addresses;
    the 100th locks: even the right code is then refused with "locked: contact the
    helpdesk", an audit event and an email are written."""
    first = WebClient(REMOTE_ADDR="192.0.2.10", HTTP_USER_AGENT="Session A")
    log_in_password(first, alice_with_totp.email)
    for wait in (0, 1, 2):
        frozen_clock.advance(wait)
        assert "not right" in code_error(first.post("/login/code/", {"code": "000000"}))
    assert state_of(alice_with_totp).consecutive_failures == 3
    assert len(mail.outbox) == 1 and "wrong code" in mail.outbox[0].subject

    guesser = Guesser(alice_with_totp, frozen_clock)
    while state_of(alice_with_totp).consecutive_failures < 99:
        assert guesser.fail().outcome is CodeOutcome.WRONG_CODE
    assert state_of(alice_with_totp).locked_at is None
    assert len(mail.outbox) == 1  # no email per failure

    # Sit out the current wait without an evaluated attempt, then a new session.
    with transaction.atomic():
        allowance = limits.check(limits.locked_state(alice_with_totp), "", frozen_clock.now)
    frozen_clock.advance(allowance.wait_seconds)
    second = WebClient(REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT="Session B")
    assert log_in_password(second, alice_with_totp.email).url == "/login/code/"
    # The 100th wrong code says at once that the code step is now locked.
    told = code_error(second.post("/login/code/", {"code": "000000"}))
    assert "the code step of this account is locked" in told
    state = state_of(alice_with_totp)
    assert state.consecutive_failures == 100 and state.locked_at is not None
    # So does a new sign-in: the code page says it before any code is typed.
    third = WebClient(REMOTE_ADDR="203.0.113.30")
    log_in_password(third, alice_with_totp.email)
    assert "the code step of this account is locked" in third.get("/login/code/").content.decode()

    message = code_error(second.post("/login/code/", {"code": frozen_clock.code(SEED20)}))
    assert LOCKED_MESSAGE in message
    assert second.get("/").status_code == 302  # not signed in
    assert failures_of(alice_with_totp) == 100  # refused-while-locked is not counted

    lock = SecurityEvent.objects.get(kind=EventKind.CODE_STEP_LOCKED, subject=alice_with_totp)
    assert lock.client_address == "198.51.100.20" and lock.user_agent == "Session B"
    assert len(mail.outbox) == 2
    email = mail.outbox[1]
    assert email.to == [alice_with_totp.email] and "locked" in email.subject
    assert "198.51.100.20" in email.body and "helpdesk" in email.body
    assert frozen_clock.code(SEED20) not in email.body and "000000" not in email.body

    # A day later, after a new login, still locked.
    frozen_clock.advance(86400)
    third = WebClient()
    log_in_password(third, alice_with_totp.email)
    assert LOCKED_MESSAGE in code_error(
        third.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    )


def test_s15_consecutive_failures_lock_even_when_spread_over_41_days(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """S15: 100 consecutive failures lock although no 30 days hold 100 of them."""
    guesser = Guesser(quick_user("frank@example.com"), frozen_clock)
    for n in range(1, 101):
        assert guesser.fail().outcome is CodeOutcome.WRONG_CODE
        assert (state_of(guesser.user).locked_at is not None) == (n == 100), n
        if n < 100:
            frozen_clock.advance(10 * 3600)
    recent = CodeFailure.objects.filter(
        user=guesser.user, at__gt=frozen_clock.now - limits.LOCK_WINDOW
    ).count()
    assert recent < limits.LOCK_AFTER_FAILURES
    assert guesser.attempt(frozen_clock.code(SEED20)).outcome is CodeOutcome.LOCKED


# --- per-address caps ------------------------------------------------------------------


def test_at_most_ten_failures_per_address_in_five_minutes(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """S19 / Guessing limits: 10 failures / 5 min from one address over all accounts;
    another address is unaffected."""
    users = [make_user(f"user{i}@example.com", full_name=f"User {i}") for i in range(3)]
    for user in users:
        enable_two_factor(user)
    attacker = "203.0.113.66"
    start = frozen_clock.unix
    t = 0
    for user in users[:2]:
        client = WebClient(REMOTE_ADDR=attacker)
        log_in_password(client, user.email)
        for step in (0, 1, 2, 4, 8):
            t += step
            frozen_clock.set(start + t)
            assert "not right" in code_error(client.post("/login/code/", {"code": "000000"}))
    assert CodeFailure.objects.filter(client_address=attacker).count() == 10

    # A forged X-Forwarded-For does not change the address (no trusted proxy configured).
    third = WebClient(REMOTE_ADDR=attacker, HTTP_X_FORWARDED_FOR="198.51.100.200")
    log_in_password(third, users[2].email)
    message = code_error(third.post("/login/code/", {"code": frozen_clock.code(SEED20)}))
    assert wait_in(message) == said(300 - t)
    assert failures_of(users[2]) == 0  # not evaluated, not counted

    elsewhere = WebClient(REMOTE_ADDR="198.51.100.77")
    log_in_password(elsewhere, users[2].email)
    response = elsewhere.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"


def test_at_most_fifty_failures_per_address_in_an_hour(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """S19 / Guessing limits: 50 failures / hour from one address over all accounts."""
    attacker = "203.0.113.99"
    guessers = [Guesser(quick_user(f"g{i}@example.com"), frozen_clock, attacker) for i in range(5)]
    for n in range(50):
        assert guessers[n % 5].fail().outcome is CodeOutcome.WRONG_CODE
    first = min(g.failed_at[0] for g in guessers)
    assert frozen_clock.now - first < timedelta(hours=1)
    frozen_clock.advance(301)

    newcomer = quick_user("newcomer@example.com")
    check = Guesser(newcomer, frozen_clock, attacker).attempt(frozen_clock.code(SEED20))
    assert check.outcome is CodeOutcome.WAIT
    assert check.wait_seconds == math.ceil(
        (first + timedelta(hours=1) - frozen_clock.now).total_seconds()
    )
    assert failures_of(newcomer) == 0
    elsewhere = Guesser(newcomer, frozen_clock, "198.51.100.5")
    assert elsewhere.attempt(frozen_clock.code(SEED20)).outcome is CodeOutcome.ACCEPTED


def test_s16_the_count_follows_the_account_into_a_new_login(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """S16: failures in one session; a new login (new client, new address) continues the
    count and the growing wait: re-entering the password resets nothing."""
    first = WebClient(REMOTE_ADDR="192.0.2.1")
    log_in_password(first, alice_with_totp.email)
    for wait in (0, 1, 2):
        frozen_clock.advance(wait)
        first.post("/login/code/", {"code": "000000"})
    assert state_of(alice_with_totp).consecutive_failures == 3

    second = WebClient(REMOTE_ADDR="198.51.100.9")
    assert log_in_password(second, alice_with_totp.email).url == "/login/code/"
    assert wait_in(code_error(second.post("/login/code/", {"code": "000000"}))) == said(4)
    frozen_clock.advance(4)
    assert "not right" in code_error(second.post("/login/code/", {"code": "000000"}))
    assert state_of(alice_with_totp).consecutive_failures == 4
    assert failures_of(alice_with_totp) == 4
    assert wait_in(code_error(second.post("/login/code/", {"code": "000000"}))) == said(8)
    assert len(mail.outbox) == 1


# --- C11: the worst case over a year -----------------------------------------------------


def test_c11_worst_case_chance_of_guessing_in_a_year_is_below_one_percent() -> None:
    """C11/S18: from the module's constants, the most guesses an attacker who knows the
    password gets in 365 days, times the 3 codes a guess can match, stays below 1 %."""
    year = timedelta(days=365)
    codes_per_guess = 2 * otp.WINDOW_STEPS + 1
    assert codes_per_guess == 3
    # Without a lock: at most LOCK_AFTER_FAILURES - 1 failures in any LOCK_WINDOW, and one
    # more guess (the one that locks) at the very end.
    windows = math.ceil(year / limits.LOCK_WINDOW)
    by_lock_window = (limits.LOCK_AFTER_FAILURES - 1) * windows + 1
    # The daily cap alone would allow this many (the sliding windows never allow more).
    per_day = min(cap * (timedelta(days=1) / window) for window, cap in limits.ACCOUNT_CAPS)
    by_daily_cap = int(per_day * year.days)
    guesses = min(by_lock_window, by_daily_cap)
    assert by_lock_window == 99 * 13 + 1
    assert by_daily_cap == 50 * 365
    chance = guesses * codes_per_guess / 10**otp.DIGITS
    assert chance < 0.01, chance
    assert by_daily_cap * codes_per_guess / 10**otp.DIGITS > 0.01  # why the 30-day lock exists


def test_c11_hundred_failures_within_30_days_lock_despite_correct_logins(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """C11: an attacker guesses 10 times a day while the real user signs in correctly
    after every 5 failures: the consecutive count never passes 5, yet the 100th failure
    within 30 days locks the code step, and then even the right code is refused."""
    guesser = Guesser(quick_user("grace@example.com"), frozen_clock)
    start = frozen_clock.now
    day = 0
    while True:
        frozen_clock.set((start + timedelta(days=day)).timestamp())
        outcome = None
        for _ in range(2):
            for _ in range(5):
                outcome = guesser.fail().outcome
                assert state_of(guesser.user).consecutive_failures <= 5
            if state_of(guesser.user).locked_at is not None:
                break
            guesser.succeed()
        if state_of(guesser.user).locked_at is not None:
            break
        day += 1
        assert day < 30, "no lock within 30 days"
    assert outcome is CodeOutcome.WRONG_CODE
    assert len(guesser.failed_at) == limits.LOCK_AFTER_FAILURES
    assert guesser.failed_at[-1] - guesser.failed_at[0] < limits.LOCK_WINDOW
    assert state_of(guesser.user).consecutive_failures == 5
    assert guesser.attempt(frozen_clock.code(SEED20)).outcome is CodeOutcome.LOCKED
    assert guesser.fail().outcome is CodeOutcome.LOCKED
    assert failures_of(guesser.user) == limits.LOCK_AFTER_FAILURES
    assert (
        SecurityEvent.objects.filter(kind=EventKind.CODE_STEP_LOCKED, subject=guesser.user).count()
        == 1
    )
    assert [m.subject for m in mail.outbox if "locked" in m.subject] != []


def test_c11_the_30_day_window_slides_for_an_occasional_typo(
    quick_user: Callable[[str], User], frozen_clock: FrozenClock
) -> None:
    """C11: 3 wrong codes and a right one every day for 40 days (120 failures, never 100
    in 30 days) never lock: old failures leave the window."""
    guesser = Guesser(quick_user("heidi@example.com"), frozen_clock)
    start = frozen_clock.now
    for day in range(40):
        frozen_clock.set((start + timedelta(days=day)).timestamp())
        for _ in range(3):
            assert guesser.fail().outcome is CodeOutcome.WRONG_CODE
        guesser.succeed()
    assert failures_of(guesser.user) == 120
    assert state_of(guesser.user).locked_at is None
