"""Issue 3 section 4: password reset and change respect 2FA and sign out other sessions."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, SEED20, FrozenClock, log_in_password
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.models import CodeFailure

NEW = "a brand new passphrase 2026"


def reset_link(client: Client, email: str) -> str:
    response = client.post("/password-reset/", {"email": email})
    assert response.status_code == 302 and response.url == "/password-reset/sent/"
    found = re.search(r"http://testserver(/password-reset/[^\s]+/)", mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found.group(1)


def test_c04_s52_reset_never_signs_in_and_the_code_step_still_applies(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    other = Client()
    log_in_password(other, alice_with_totp.email)
    other.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert other.get("/").status_code == 200

    link = reset_link(client, "ALICE@example.com")
    form_url = client.get(link).url  # Django moves the token into the session
    response = client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302 and response.url == "/password-reset/complete/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302

    # The new password leads to the code step, not into the account.
    assert log_in_password(client, alice_with_totp.email, NEW).url == "/login/code/"
    assert client.get("/").status_code == 302
    # 2FA is still on, the link works once, and the other session is signed out.
    assert hasattr(User.objects.get(pk=alice_with_totp.pk), "two_factor_device")
    assert (
        client.get(link).status_code == 200
        and b"does not work any more" in client.get(link, follow=True).content
    )
    assert other.get("/").status_code == 302
    kinds = set(SecurityEvent.objects.values_list("kind", flat=True))
    assert {EventKind.PASSWORD_RESET, EventKind.SESSIONS_REVOKED} <= kinds
    assert "was reset with an email link" in mail.outbox[-1].body
    assert NEW not in mail.outbox[-1].body


def test_s59_reset_page_says_the_same_for_unknown_addresses(client: Client, alice: User) -> None:
    known = client.post("/password-reset/", {"email": alice.email}, follow=True)
    unknown = client.post("/password-reset/", {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [alice.email]


def test_change_needs_the_current_password_and_keeps_only_this_session(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    sessions = []
    for _ in range(2):
        c = Client()
        log_in_password(c, alice_with_totp.email)
        c.post("/login/code/", {"code": frozen_clock.code(SEED20)})
        frozen_clock.advance(30)
        sessions.append(c)
    this, other = sessions
    wrong = this.post(
        "/account/password/", {"old_password": "not it", "new_password1": NEW, "new_password2": NEW}
    )
    assert wrong.status_code == 200
    assert User.objects.get(pk=alice_with_totp.pk).check_password(PASSWORD)
    # A wrong current password counts under the guessing limits, like Disable 2FA.
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 1
    too_soon = this.post(
        "/account/password/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert too_soon.status_code == 200 and b"Not yet: wait 1 second" in too_soon.content
    frozen_clock.advance(2)
    key_before = this.session.session_key
    done = this.post(
        "/account/password/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert done.status_code == 302 and done.url == "/account/password/done/"
    assert this.get("/").status_code == 200 and this.session.session_key != key_before
    assert other.get("/").status_code == 302
    assert User.objects.get(pk=alice_with_totp.pk).check_password(NEW)


def test_password_rules_min_12_and_common_passwords(client: Client, alice: User) -> None:
    client.force_login(alice)
    for weak in ("short pw 1", "password1234", "123456789012"):
        response = client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200, weak
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_s44_absolute_session_lifetime_of_12_hours(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    c = Client()
    log_in_password(c, alice_with_totp.email)
    c.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    frozen_clock.advance(12 * 3600)
    assert c.get("/").status_code == 200  # active, and exactly at the limit
    frozen_clock.advance(1)
    response = c.get("/account/2fa/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert "_auth_user_id" not in c.session
