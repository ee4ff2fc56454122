"""Regression tests for the third round of trying Twostep as a fresh user in a browser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, SEED20, FrozenClock, log_in_password
from tests.test_break_it_round2 import SETUP_ELSEWHERE
from tests.twofa_flows import (
    CONFIRM,
    DONE,
    MANAGE,
    SETUP,
    enrol,
    shown_key,
    sign_in,
    sign_out,
    start,
)
from twostep.accounts.models import User
from twostep.audit.models import SecurityEvent
from twostep.twofactor.recovery import replace_codes

SHOWN_ONCE = "Recovery codes are shown only once, so they cannot be shown again."


def told(response: object) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))  # type: ignore[attr-defined]


def test_a_utf8_user_agent_is_recorded_as_the_browser_sent_it(client: Client, alice: User) -> None:
    # What WSGI servers hand over for the UTF-8 bytes of "Ünïcødé/1.0": their Latin-1 reading.
    as_wsgi_gives_it = "Ünïcødé/1.0".encode().decode("latin-1")
    client.post(
        "/login/", {"email": alice.email, "password": PASSWORD}, HTTP_USER_AGENT=as_wsgi_gives_it
    )
    assert SecurityEvent.objects.latest("at").user_agent == "Ünïcødé/1.0"
    # Not UTF-8 bytes (a real Latin-1 agent): kept as it came.
    Client().post("/login/", {"email": alice.email, "password": "wrong"}, HTTP_USER_AGENT="caf\xe9")
    assert SecurityEvent.objects.latest("at").user_agent == "caf\xe9"


@pytest.mark.parametrize("page", ["/account/2fa/enable/done/", "/account/2fa/recovery-codes/new/"])
def test_a_reload_of_a_recovery_codes_page_says_they_were_shown_once(
    client: Client,
    alice: User,
    make_user: Callable[..., User],
    frozen_clock: FrozenClock,
    page: str,
) -> None:
    sign_in(client, alice.email)
    enrol(client, frozen_clock)
    assert client.get("/account/2fa/enable/done/").status_code == 200  # shown: codes gone
    response = client.get(page)
    assert response.status_code == 302 and response.url == MANAGE
    assert SHOWN_ONCE in told(client.get(MANAGE))
    # Said once, and never to a session that was shown no codes.
    client.get(page)
    assert SHOWN_ONCE not in told(client.get(MANAGE))
    other = Client()
    sign_in(other, make_user("bob@example.com").email)  # 2FA off: no codes, ever
    other.get(page)
    assert SHOWN_ONCE not in told(other.get(MANAGE))


def test_the_password_reset_email_is_signed_like_every_other_email(
    client: Client, alice: User
) -> None:
    client.post("/password-reset/", {"email": alice.email})
    [message] = mail.outbox
    assert message.subject == "[Twostep] Reset your password"
    assert "not after you sign in or change your password in the meantime" in message.body


def test_a_reset_link_killed_by_a_sign_in_says_that_may_be_why(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    client.post("/password-reset/", {"email": alice.email})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password-reset/" in line)
    frozen_clock.advance(60)
    sign_in(Client(), alice.email)  # last_login changes: Django's token no longer matches
    page = client.get(link.split("testserver", 1)[1], follow=True).content.decode()
    assert "This link does not work any more" in page
    assert (
        "or the account was signed in to (or its password changed) since the link was sent" in page
    )


def test_the_recovery_code_page_asks_for_a_recovery_code_after_the_wait(
    pending_client: Client, alice_with_totp: User
) -> None:
    """The wait after a wrong recovery code speaks of recovery codes: there is no "newest
    code" on that page."""
    pending_client.post("/login/recovery/", {"code": "aaaa-bbbb-cccc-dddd"})  # wrong: counted
    page = pending_client.post("/login/recovery/", {"code": "aaaa-bbbb-cccc-eeee"})
    text = page.content.decode()
    assert "then enter a recovery code again." in text
    assert "newest code" not in text


def test_a_new_phone_keeps_the_recovery_codes_and_says_so(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """Moving to a new phone changes the phone only: the saved recovery codes keep working
    (a fresh tester's printed set stopped working without a word). The page and the one
    email (S49: "replace") say it was a new phone."""
    saved = replace_codes(alice_with_totp)
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    new_key = shown_key(verified_client)
    mail.outbox.clear()
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(new_key)})
    assert response.status_code == 302 and response.url == DONE
    page = verified_client.get(DONE).content.decode()
    assert "Your new phone is set up" in page
    assert "Your recovery codes have not changed: 10 are left." in page
    reload = verified_client.get(DONE)  # nothing was shown: nothing to say about codes
    assert reload.url == MANAGE and SHOWN_ONCE not in told(verified_client.get(MANAGE))
    assert saved[0] not in page and 'data-testid="recovery-codes"' not in page
    [message] = mail.outbox
    assert message.subject == "[Twostep] A new phone was set up for two-factor authentication"
    assert "Your recovery codes have not changed." in message.body

    other = Client()
    frozen_clock.advance(30)
    log_in_password(other, alice_with_totp.email)
    response = other.post("/login/recovery/", {"code": saved[0]})
    assert response.status_code == 302 and response.url == "/"


def test_signed_out_mid_setup_the_user_is_told_to_delete_the_scanned_entry(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """The session timed out (or was signed out) after the QR code was scanned: after the
    new sign-in the key is not shown again, and the user is told what to do with the entry
    already in their app."""
    sign_in(client, alice.email)
    start(client)
    scanned = shown_key(client)
    sign_out(client)
    sign_in(client, alice.email)
    response = client.get(SETUP)
    assert response.status_code == 302 and response.url == MANAGE
    message = told(client.get(MANAGE))
    assert SETUP_ELSEWHERE in message and "delete any entry you scanned" in message
    start(client)
    assert shown_key(client) != scanned
