"""Limits on the password step: per login name (known or not) and per client address."""

from __future__ import annotations

import re

from django.test import Client

from tests.conftest import PASSWORD, FrozenClock
from twostep.accounts import throttle
from twostep.accounts.models import PasswordFailure, User
from twostep.audit.models import EventKind, SecurityEvent

TOO_MANY = "Too many sign-in attempts"


def attempt(email: str, password: str, address: str = "192.0.2.1") -> str:
    response = Client().post("/login/", {"email": email, "password": password}, REMOTE_ADDR=address)
    return response.content.decode() if response.status_code == 200 else response["Location"]


def test_ten_wrong_passwords_from_one_address_then_wait(
    alice: User, frozen_clock: FrozenClock
) -> None:
    cap = throttle.NAME_AND_ADDRESS_CAPS[0][1]
    for i in range(cap):
        assert "not right" in attempt(alice.email, f"wrong {i}", "198.51.100.7")
    # Over the cap even the right password is not evaluated from that address...
    page = attempt(alice.email.upper(), PASSWORD, "198.51.100.7")
    assert TOO_MANY in page and "Wait 15 minutes" in page
    assert PasswordFailure.objects.count() == cap  # the refused attempt was not counted
    # ...while another address still signs in.
    assert attempt(alice.email, PASSWORD, "203.0.113.9") == "/"
    frozen_clock.advance(15 * 60 + 1)
    assert attempt(alice.email, PASSWORD, "198.51.100.7") == "/"


def test_many_addresses_against_one_name_cannot_lock_out_its_usual_address(
    alice: User, frozen_clock: FrozenClock
) -> None:
    """Helper-5's finding: a stranger must not lock the real user out of their connection."""
    assert attempt(alice.email, PASSWORD, "192.0.2.10") == "/"  # alice's usual address
    cap = throttle.NAME_CAPS[0][1]
    for i in range(cap):
        attempt(alice.email, f"wrong {i}", f"198.51.{i // 200}.{i % 200 + 1}")
    assert TOO_MANY in attempt(alice.email, PASSWORD, "203.0.113.50")  # a new address waits
    assert attempt(alice.email, PASSWORD, "192.0.2.10") == "/"  # her usual one does not
    # The failed attempts are on her record, for her and for the helpdesk.
    assert SecurityEvent.objects.filter(subject=alice, kind=EventKind.LOGIN_FAILED).count() == cap


def test_unknown_and_known_names_are_limited_alike(alice: User, frozen_clock: FrozenClock) -> None:
    """S59: the limit gives nothing away about which addresses have an account."""
    for email in (alice.email, "nobody@example.com"):
        for i in range(throttle.NAME_CAPS[0][1]):
            attempt(email, f"wrong {i}", f"198.51.100.{i}")
    known = attempt(alice.email, "wrong", "203.0.113.1")
    unknown = attempt("nobody@example.com", "wrong", "203.0.113.1")
    assert TOO_MANY in known and TOO_MANY in unknown

    def without_token(page: str, email: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.replace(email, ""))

    assert without_token(known, alice.email) == without_token(unknown, "nobody@example.com")


def test_one_address_trying_many_names_is_limited(alice: User, frozen_clock: FrozenClock) -> None:
    cap = throttle.ADDRESS_CAPS[0][1]
    for i in range(cap):
        attempt(f"user{i}@example.com", "wrong", "192.0.2.50")
    assert TOO_MANY in attempt(alice.email, PASSWORD, "192.0.2.50")
    assert attempt(alice.email, PASSWORD, "192.0.2.51") == "/"
