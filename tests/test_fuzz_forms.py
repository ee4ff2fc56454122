"""Issue 3 section 8: every form takes random Unicode, long strings and control characters
without a server error, and refused input never changes the 2FA state or the password."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AGENT_KEY, PASSWORD, FrozenClock, enable_two_factor, log_in_password
from twostep.accounts.models import User
from twostep.twofactor.models import CodeFailure, GuessingState, PendingEnrolment, TwoFactorDevice

nasty_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=12000),
    st.text(alphabet="\x00\x01\x1b\x7f\u200b\u202e\ufeff0123456789 -", max_size=40),
    st.sampled_from(["１２３４５６", "12345６", "●●●●●●", "٠١٢٣٤٥", "\x00" * 6, "050471\x00"]),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def state_of(user: User) -> tuple[object, ...]:
    user.refresh_from_db()
    return (
        list(
            TwoFactorDevice.objects.filter(user=user).values_list("encrypted_key", "last_used_step")
        ),
        list(PendingEnrolment.objects.filter(user=user).values_list("encrypted_key")),
        user.password,
    )


def forget_failures() -> None:
    CodeFailure.objects.all().delete()
    GuessingState.objects.update(consecutive_failures=0, last_failure_at=None, locked_at=None)


@pytest.mark.django_db
@FUZZ
@given(email=nasty_text, password=nasty_text)
def test_login_form(alice_with_totp: User, email: str, password: str) -> None:
    response = Client().post("/login/", {"email": email, "password": password})
    assert response.status_code == 200
    assert "/login/code/" not in response.get("Location", "")


@pytest.mark.django_db
@FUZZ
@given(code=nasty_text)
def test_code_step(pending_client: Client, alice_with_totp: User, code: str) -> None:
    forget_failures()
    before = state_of(alice_with_totp)
    response = pending_client.post("/login/code/", {"code": code})
    assert response.status_code == 200  # refused (a random text is never the code)
    assert b"field-error" in response.content
    assert state_of(alice_with_totp) == before
    assert "_auth_user_id" not in pending_client.session


@pytest.mark.django_db
@FUZZ
@given(code=nasty_text)
def test_enrolment_code(client: Client, alice: User, frozen_clock: FrozenClock, code: str) -> None:
    forget_failures()
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    before = state_of(alice)
    response = client.post("/account/2fa/enable/code/", {"code": code})
    assert response.status_code == 200
    assert state_of(alice) == before
    assert not TwoFactorDevice.objects.filter(user=alice).exists()


@pytest.mark.django_db
@FUZZ
@given(password=nasty_text)
def test_disable_form(verified_client: Client, alice_with_totp: User, password: str) -> None:
    forget_failures()
    before = state_of(alice_with_totp)
    response = verified_client.post("/account/2fa/disable/", {"password": password})
    assert response.status_code == 200
    assert state_of(alice_with_totp) == before


@pytest.mark.django_db
@FUZZ
@given(reason=nasty_text, email=nasty_text)
def test_helpdesk_forms(
    client: Client, alice_with_totp: User, make_user: type[User], reason: str, email: str
) -> None:
    agent = User.objects.filter(email="agent@example.com").first()
    if agent is None:
        agent = make_user("agent@example.com", office=None, is_staff=True)  # type: ignore[operator]
        agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
        enable_two_factor(agent, AGENT_KEY)
    client.force_login(agent)
    before = state_of(alice_with_totp)
    assert client.post("/helpdesk/", {"email": email}).status_code in {200, 302}
    # Without the identity checks ticked, no reason is enough.
    response = client.post(f"/helpdesk/users/{alice_with_totp.pk}/", {"reason": reason})
    assert response.status_code == 400
    assert state_of(alice_with_totp) == before


@pytest.mark.django_db
@FUZZ
@given(old=nasty_text, new=nasty_text)
def test_password_change_form(client: Client, alice: User, old: str, new: str) -> None:
    client.force_login(alice)
    before = state_of(alice)
    response = client.post(
        "/account/password/", {"old_password": old, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 200  # a random old password is never right
    assert state_of(alice) == before
    log_in_password(Client(), alice.email, PASSWORD)
