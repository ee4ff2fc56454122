"""Issue 5 section 4: a code that would be right 2..10 steps away is refused, counted, and
the user is told their phone's clock is off; the hint gives a guesser nothing to replay."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import SEED20, FrozenClock
from twostep import otp
from twostep.accounts.models import User
from twostep.twofactor.models import CodeFailure, PendingEnrolment
from twostep.twofactor.storage import unseal

T = 1111111111


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(2, 2), (-2, -2), (10, 10), (-10, -10), (1, None), (0, None), (-1, None), (11, None)],
)
def test_offset_found_only_outside_the_window_up_to_ten_steps(
    offset: int, expected: int | None
) -> None:
    code = otp.code_at_step(SEED20, otp.time_step(T) + offset)
    assert otp.clock_offset(SEED20, code, T) == expected


def test_phone_behind_at_login_is_told_and_counted(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    response = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20, -4)})
    assert response.status_code == 200
    text = response.content.decode().replace("&#x27;", "'")
    assert "Your phone's clock seems to be about 2 minutes behind." in text
    assert "automatic date and time" in text
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 1
    assert "_auth_user_id" not in pending_client.session


def test_phone_ahead_at_login_is_told_and_that_code_never_works_later(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    future = frozen_clock.code(SEED20, 3)
    response = pending_client.post("/login/code/", {"code": future})
    text = response.content.decode().replace("&#x27;", "'")
    assert "about 2 minutes ahead" in text
    # When that step comes, the hinted code is refused: the hint weakened nothing.
    frozen_clock.advance(3 * 30)
    assert frozen_clock.code(SEED20) == future
    again = pending_client.post("/login/code/", {"code": future})
    assert again.status_code == 200 and b"already been used" in again.content
    frozen_clock.advance(30)
    ok = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert ok.status_code == 302 and ok.url == "/"


def test_hint_at_enrolment(client: Client, alice: User, frozen_clock: FrozenClock) -> None:
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    key = unseal(alice.pk, PendingEnrolment.objects.get(user=alice).encrypted_key)
    response = client.post("/account/2fa/enable/code/", {"code": frozen_clock.code(key, 6)})
    text = response.content.decode().replace("&#x27;", "'")
    assert "about 3 minutes ahead" in text
    assert PendingEnrolment.objects.filter(user=alice).exists()
    assert not hasattr(User.objects.get(pk=alice.pk), "two_factor_device")
    assert CodeFailure.objects.filter(user=alice).count() == 1


def test_every_hinted_future_code_stays_refused(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """Two hints in a row: neither hinted code can be used when its step comes."""
    first, second = frozen_clock.code(SEED20, 4), frozen_clock.code(SEED20, 6)
    pending_client.post("/login/code/", {"code": first})
    frozen_clock.advance(5)
    pending_client.post("/login/code/", {"code": second})
    for code, steps in ((first, 4), (second, 6)):
        frozen_clock.set(T + steps * 30)
        assert frozen_clock.code(SEED20) == code
        response = pending_client.post("/login/code/", {"code": code})
        assert response.status_code == 200 and b"already been used" in response.content, steps
