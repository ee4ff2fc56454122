"""Issue 3 section 6 / S49: every security notification goes out through a real SMTP server
(aiosmtpd on 127.0.0.1) and says what happened, when, from which address, and what to do."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.contrib.auth.models import Permission
from django.test import Client, override_settings

from tests.conftest import PASSWORD, FrozenClock, free_port, log_in_password
from twostep.accounts.models import User
from twostep.http import Client as RequestClient
from twostep.twofactor import limits
from twostep.twofactor.removal import helpdesk_reset
from twostep.twofactor.verification import check_login_code


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def bodies(self) -> list[str]:
        return [str(m.get_payload(decode=True), "utf-8") for m in self.messages]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
    ):
        yield handler
    controller.stop()


def assert_explains(body: str, what: str) -> None:
    assert what in body, body
    assert "UTC" in body and "From address:" in body
    assert "contact the helpdesk" in body


@pytest.mark.django_db
def test_enable_and_disable_are_told_by_smtp(
    inbox: Inbox, client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    from twostep.twofactor.models import PendingEnrolment
    from twostep.twofactor.storage import unseal

    key = unseal(alice.pk, PendingEnrolment.objects.get(user=alice).encrypted_key)
    client.post(
        "/account/2fa/enable/code/", {"code": frozen_clock.code(key)}, REMOTE_ADDR="192.0.2.7"
    )
    frozen_clock.advance(30)
    client.post(
        "/account/2fa/disable/",
        {"password": PASSWORD, "code": frozen_clock.code(key)},
        REMOTE_ADDR="192.0.2.7",
    )
    assert [m["To"] for m in inbox.messages] == [alice.email, alice.email]
    enabled, disabled = inbox.bodies()
    assert_explains(enabled, "was turned on")
    assert_explains(disabled, "was turned off")
    assert "192.0.2.7" in enabled and "192.0.2.7" in disabled
    assert key.hex() not in enabled + disabled


@pytest.mark.django_db
def test_refused_code_after_password_and_lock_are_told(
    inbox: Inbox, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    client = Client()
    log_in_password(client, alice_with_totp.email)
    client.post("/login/code/", {"code": "000000"}, REMOTE_ADDR="198.51.100.4")
    assert len(inbox.messages) == 1
    assert_explains(inbox.bodies()[0], "wrong 2FA code")
    assert "someone may know your password" in inbox.bodies()[0]
    # Drive the account to the lock, moving the clock past every wait and window.
    for i in range(limits.LOCK_AFTER_FAILURES):
        frozen_clock.advance(24 * 3600 / 40)
        check_login_code(alice_with_totp, "000000", RequestClient(f"203.0.113.{i % 250}", "ua"))
    subjects = [m["Subject"] for m in inbox.messages]
    assert any("locked" in s for s in subjects), subjects
    assert_explains(inbox.bodies()[-1], "locked")


@pytest.mark.django_db
def test_helpdesk_reset_and_password_change_are_told(
    inbox: Inbox, alice_with_totp: User, make_user: type[User], frozen_clock: FrozenClock
) -> None:
    agent = make_user("agent@example.com", office=None, is_staff=True)  # type: ignore[operator]
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    helpdesk_reset(
        agent, alice_with_totp, "TICKET-123 lost phone", RequestClient("192.0.2.9", "ua")
    )
    assert_explains(inbox.bodies()[-1], "Support removed two-factor authentication")
    assert "TICKET-123" in inbox.bodies()[-1]
    client = Client()
    client.force_login(alice_with_totp)
    new = "another long passphrase 99"
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert_explains(inbox.bodies()[-1], "was changed")
    assert new not in inbox.bodies()[-1]
