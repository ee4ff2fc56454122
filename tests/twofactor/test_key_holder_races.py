"""Which session holds a pending key, when two sessions of one user press Enable 2FA (or
set up a new phone) at nearly the same time, and when the key ring is rotated mid-setup.

Found by review: the check "does this session hold the key?" was made before the row lock,
so a key made by another session in between was handed over as this session's own; and a
second session that passed the password and code for a new phone was given the key the first
session was already scanning.
"""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from tests.conftest import PASSWORD, SEED20, FrozenClock
from tests.test_break_it_round2 import device_key, messages_of, other_session  # noqa: F401
from tests.twofa_flows import CONFIRM, DONE, MANAGE, SETUP, shown_key, sign_in, start
from twostep.accounts.models import User
from twostep.twofactor import enrolment, views
from twostep.twofactor.keyring import KeyRing
from twostep.twofactor.models import PendingEnrolment, TwoFactorDevice
from twostep.twofactor.storage import unseal

REPLACED_ELSEWHERE = "Enable 2FA was started again in another browser or window"
NEW_PHONE_REPLACED_ELSEWHERE = (
    "Set up a new phone was started again in another browser or window, so the key shown "
    "here no longer works."
)


def test_a_key_made_by_another_session_between_look_and_lock_is_not_handed_over(
    client: Client, alice: User, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, alice.email)
    other = Client()
    sign_in(other, alice.email)
    start(client)
    made_for_other: list[bytes] = []
    real_start_enrolment = enrolment.start_enrolment

    def other_presses_enable_2fa_meanwhile(user: User, **kwargs: str | None) -> PendingEnrolment:
        if not made_for_other:  # after this session looked, before it takes the lock
            made_for_other.append(unseal(user.pk, real_start_enrolment(user).encrypted_key))
        return real_start_enrolment(user, **kwargs)

    monkeypatch.setattr(views.enrolment, "start_enrolment", other_presses_enable_2fa_meanwhile)
    start(client)  # Enable 2FA again in this session, which held the key it was shown
    assert shown_key(client) != made_for_other[0]


def test_a_second_session_passing_password_and_code_gets_a_new_phone_key_of_its_own(
    verified_client: Client,
    other_session: Client,  # noqa: F811
    alice_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    """Someone with the password and one code must not read the key the user's new phone
    is scanning: they get a key of their own, and the user is told theirs was replaced."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    users_new_key = shown_key(verified_client)
    frozen_clock.advance(30)
    start(other_session, password=PASSWORD, code=frozen_clock.code(SEED20))
    assert shown_key(other_session) not in (users_new_key, SEED20)

    response = verified_client.get(SETUP)
    assert response.status_code == 302 and response.url == MANAGE
    told = messages_of(verified_client)
    assert NEW_PHONE_REPLACED_ELSEWHERE in told and "change your password now" in told
    frozen_clock.advance(30)
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(users_new_key)})
    assert response.status_code == 302 and response.url == MANAGE
    assert device_key(alice_with_totp) == SEED20  # the replaced key was never bound


def test_the_same_session_passing_password_and_code_again_keeps_its_key(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """The app may already have scanned it (C12): asking again in the same session keeps it."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    first = shown_key(verified_client)
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    assert shown_key(verified_client) == first


def test_rotating_the_key_ring_mid_setup_keeps_the_setup_going(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """``rotate_keyring`` re-encrypts pending keys too; the session scanning one keeps it,
    and is not told that Enable 2FA was started elsewhere."""
    sign_in(client, alice.email)
    start(client)
    key = shown_key(client)
    sealed_before = PendingEnrolment.objects.get(user=alice).encrypted_key
    ring = settings.TWOSTEP_KEY_RING
    new_id = "rot" + ("b" if KeyRing.parse(ring).primary_id == "rota" else "a")
    with override_settings(TWOSTEP_KEY_RING=f"{KeyRing.generate_entry(new_id)},{ring}"):
        call_command("rotate_keyring", stdout=io.StringIO())
        assert PendingEnrolment.objects.get(user=alice).encrypted_key != sealed_before
        assert shown_key(client) == key
        assert REPLACED_ELSEWHERE not in messages_of(client)
        response = client.post(CONFIRM, {"code": frozen_clock.code(key)})
        assert response.status_code == 302 and response.url == DONE
    assert TwoFactorDevice.objects.filter(user=alice).exists()
