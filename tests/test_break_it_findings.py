"""Regression tests for what a fresh tester found by trying to break Twostep."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client, override_settings

from tests.conftest import (
    AGENT_KEY,
    PASSWORD,
    SEED20,
    FrozenClock,
    enable_two_factor,
    log_in_password,
)
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.http import Client as RequestClient
from twostep.twofactor.keyring import KeyRing
from twostep.twofactor.models import CodeFailure
from twostep.twofactor.removal import helpdesk_reset
from twostep.twofactor.verification import check_login_code


def test_django_admin_is_a_403_not_a_redirect_loop_for_non_operators(alice: User) -> None:
    c = Client()
    c.force_login(alice)
    response = c.get("/django-admin/", follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) <= 2


def test_helpdesk_cannot_reset_operators_or_agents(
    alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    agent = make_user("agent@example.com", office=None, is_staff=True)
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    enable_two_factor(agent, AGENT_KEY)
    operator = make_user("op@example.com", office=None, is_staff=True, is_superuser=True)
    enable_two_factor(operator)
    c = Client()
    c.force_login(agent)
    assert c.get(f"/helpdesk/users/{operator.pk}/").status_code == 403
    assert hasattr(User.objects.get(pk=operator.pk), "two_factor_device")


def test_password_reset_mails_are_limited_but_the_answer_is_the_same(alice: User) -> None:
    c = Client()
    answers = {c.post("/password-reset/", {"email": alice.email}).url for _ in range(6)}
    assert answers == {"/password-reset/sent/"}
    assert len(mail.outbox) == 3


def test_a_key_ring_without_the_key_gives_a_clear_message_not_a_500(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    other_ring = KeyRing.generate_entry("kother")
    with override_settings(TWOSTEP_KEY_RING=other_ring):
        response = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 200
    assert b"unavailable for a moment on our side" in response.content
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 0
    ok = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert ok.status_code == 302 and ok.url == "/"


def test_colleagues_typos_on_a_shared_address_do_not_block_a_known_user(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    office_ip = "192.0.2.200"
    alice = make_user("alice@office.example")
    enable_two_factor(alice)
    SecurityEvent.objects.create(
        kind=EventKind.LOGIN_SUCCEEDED, subject=alice, client_address=office_ip, at=frozen_clock.now
    )
    for i in range(10):
        colleague = make_user(f"c{i}@office.example", full_name=f"C {i}")
        enable_two_factor(colleague)
        check_login_code(colleague, "000000", RequestClient(office_ip, "ua"))
    stranger = make_user("s@office.example", full_name="S")
    enable_two_factor(stranger)
    assert (
        check_login_code(
            stranger, frozen_clock.code(SEED20), RequestClient(office_ip, "ua")
        ).outcome.value
        == "wait"
    )
    assert check_login_code(
        alice, frozen_clock.code(SEED20), RequestClient(office_ip, "ua")
    ).accepted


def test_a_reset_with_nothing_to_reset_writes_and_logs_nothing(alice: User) -> None:
    before = SecurityEvent.objects.count()
    stamp = User.objects.get(pk=alice.pk).security_stamp
    assert helpdesk_reset(None, alice, "T-1", RequestClient("", "cli")) is False
    assert SecurityEvent.objects.count() == before
    assert User.objects.get(pk=alice.pk).security_stamp == stamp


def test_a_refused_code_is_not_shown_again_in_the_field(
    pending_client: Client, alice_with_totp: User
) -> None:
    response = pending_client.post("/login/code/", {"code": "123455"})
    assert b'value="123455"' not in response.content


def test_password_change_counts_wrong_current_passwords(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    for i in range(5):
        frozen_clock.advance(20)
        verified_client.post(
            "/account/password/",
            {"old_password": f"guess {i}", "new_password1": "x" * 20, "new_password2": "x" * 20},
        )
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 5
    frozen_clock.advance(20)
    response = verified_client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "y" * 20 + "z1",
            "new_password2": "y" * 20 + "z1",
        },
    )
    assert b"Not yet: wait" in response.content
    assert User.objects.get(pk=alice_with_totp.pk).check_password(PASSWORD)
    log_in_password(Client(), alice_with_totp.email)


def test_a_second_code_submit_after_signing_in_goes_home(
    verified_client: Client, frozen_clock: FrozenClock
) -> None:
    """A double submit: the second request finds the user signed in, not 'took too long'."""
    response = verified_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"
    assert verified_client.get("/").status_code == 200


def test_wrong_setup_code_does_not_speak_of_2fa_already_on(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    response = client.post("/account/2fa/enable/code/", {"code": "000000"})
    assert b"shows for this account" in response.content
    assert b"when you turned on 2FA" not in response.content


def test_key_page_after_enabling_says_nothing_contradictory(
    verified_client: Client,
) -> None:
    response = verified_client.get("/account/2fa/enable/key/", follow=True)
    assert b"Start with Enable 2FA" not in response.content
    assert b"Two-factor authentication is enabled since" in response.content


def test_cancelling_a_pending_sign_in_does_not_say_signed_out(pending_client: Client) -> None:
    response = pending_client.post("/logout/", follow=True)
    assert b"You are signed out." not in response.content
