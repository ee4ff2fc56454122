"""A mail server that is down changes nothing but the mail: every refusal is still counted,
every change still stands, and no security mail is sent while a transaction (and so a lock)
is open. Found by review: the wrong-code mail on Disable 2FA used to be sent inside the
caller's transaction, so a refused connection rolled the count of that wrong code back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from tests.conftest import (
    PASSWORD,
    SEED20,
    FrozenClock,
    _only_test_wrappers_open,
    log_in_password,
)
from tests.twofa_flows import DISABLE
from twostep.accounts.models import User
from twostep.audit import notify
from twostep.audit.models import EventKind, SecurityEvent
from twostep.http import Client as RequestClient
from twostep.twofactor.models import CodeFailure, GuessingState, TwoFactorDevice
from twostep.twofactor.removal import helpdesk_reset

WRONG_CODES = ("000000", "111111", "222222", "333333", "444444")


def not_sent(caplog: pytest.LogCaptureFixture, what: str) -> int:
    return sum(f"The {what} email" in r.getMessage() for r in caplog.records)


def test_wrong_codes_on_disable_are_counted_while_the_mail_server_is_down(
    mail_server_down: pytest.LogCaptureFixture,
    verified_client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    for count, guess in enumerate(WRONG_CODES, start=1):
        frozen_clock.advance(120)  # past the growing wait, inside the 5-in-5-minutes cap
        response = verified_client.post(DISABLE, {"password": PASSWORD, "code": guess})
        assert response.status_code == 200
        assert b"That code is not right." in response.content
        assert CodeFailure.objects.filter(user=alice_with_totp).count() == count
        assert GuessingState.objects.get(user=alice_with_totp).consecutive_failures == count
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert (
        not_sent(mail_server_down, "code_refused") == 1
    )  # the first of the streak was mailed (tried)


def test_a_refused_login_code_is_counted_and_answered_while_the_mail_server_is_down(
    mail_server_down: pytest.LogCaptureFixture,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    client = Client()
    log_in_password(client, alice_with_totp.email)
    response = client.post("/login/code/", {"code": "000000"})
    assert response.status_code == 200 and b"That code is not right." in response.content
    assert GuessingState.objects.get(user=alice_with_totp).consecutive_failures == 1
    assert not_sent(mail_server_down, "code_refused") == 1


def test_a_change_stands_when_its_mail_cannot_be_sent(
    mail_server_down: pytest.LogCaptureFixture,
    verified_client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    frozen_clock.advance(30)
    response = verified_client.post(
        DISABLE, {"password": PASSWORD, "code": frozen_clock.code(SEED20)}, follow=True
    )
    assert b"Two-factor authentication is now off." in response.content
    assert not TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_DISABLED).count() == 1
    assert not_sent(mail_server_down, "two_factor_disabled") == 1


def test_no_security_mail_is_sent_while_a_transaction_is_open(
    verified_client: Client,
    alice_with_totp: User,
    make_user: Callable[..., User],
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent inside a transaction, a slow mail server would hold the user's guessing row lock
    (on SQLite: every writer's lock), and a failing one would roll the change back."""
    sent_inside: list[tuple[str, bool]] = []
    real_send_mail = notify.send_mail

    def recording_send_mail(subject: str, *args: object, **kwargs: object) -> int:
        sent_inside.append((subject, not _only_test_wrappers_open(connection)))
        return real_send_mail(subject, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(notify, "send_mail", recording_send_mail)
    frozen_clock.advance(30)
    verified_client.post(DISABLE, {"password": PASSWORD, "code": "000000"})  # refused
    frozen_clock.advance(30)
    verified_client.post(DISABLE, {"password": PASSWORD, "code": frozen_clock.code(SEED20)})
    bob = make_user("bob@example.com")
    TwoFactorDevice.objects.filter(user=alice_with_totp).delete()
    from tests.conftest import enable_two_factor

    enable_two_factor(bob, SEED20)
    helpdesk_reset(None, bob, "TICKET-9 lost phone", RequestClient("192.0.2.1", "ua"))
    assert [s for s, _ in sent_inside] == [m.subject for m in mail.outbox]
    assert len(sent_inside) == 3, sent_inside
    assert not any(inside for _, inside in sent_inside), sent_inside


def test_forgot_your_password_answers_as_always_while_the_mail_server_is_down(
    mail_server_down: None, alice: User
) -> None:
    response = Client().post("/password-reset/", {"email": alice.email}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/password-reset/sent/"
    assert SecurityEvent.objects.filter(kind=EventKind.PASSWORD_RESET_REQUESTED).count() == 1
