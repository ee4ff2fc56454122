"""Regression tests for the third round of trying Twostep as a fresh user in a browser."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, FrozenClock
from tests.twofa_flows import MANAGE, enrol, sign_in
from twostep.accounts.models import User
from twostep.audit.models import SecurityEvent

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
    client: Client, alice: User, frozen_clock: FrozenClock, page: str
) -> None:
    sign_in(client, alice.email)
    enrol(client, frozen_clock)
    assert client.get("/account/2fa/enable/done/").status_code == 200  # shown: codes gone
    response = client.get(page)
    assert response.status_code == 302 and response.url == MANAGE
    assert SHOWN_ONCE in told(client.get(MANAGE))


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
