"""Regression tests for the second round of trying to break Twostep (a fresh tester, stale
sessions, two tabs, recovery codes, wording)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.core import mail
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from tests.conftest import PASSWORD, SEED20, FrozenClock
from tests.twofa_flows import (
    CONFIRM,
    DISABLE,
    DONE,
    MANAGE,
    SETUP,
    START,
    enrol,
    shown_key,
    sign_in,
    sign_in_with_code,
    start,
)
from twostep import clock
from twostep.accounts.middleware import TwoTabsSessionMiddleware
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.enrolment import current_pending
from twostep.twofactor.models import CodeFailure, GuessingState, TwoFactorDevice
from twostep.twofactor.recovery import replace_codes
from twostep.twofactor.storage import unseal

ASK_FOR_BOTH = "Enter your password and the code from your app to set up a new phone."
# A live key this session never held: a setup that ended (signed out) or runs elsewhere.
SETUP_ELSEWHERE = "A 2FA setup that ended (you were signed out) or that runs in another browser"
NEW_PHONE_SETUP_ELSEWHERE = "A setup of a new phone that ended (you were signed out) or that runs"


def device_key(user: User) -> bytes:
    return unseal(user.pk, TwoFactorDevice.objects.get(user=user).encrypted_key)


def messages_of(client: Client, path: str = MANAGE) -> str:
    response = client.get(path)
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.fixture
def other_session(alice_with_totp: User, frozen_clock: FrozenClock) -> Client:
    """A second, fully signed-in session of alice (another browser, or one left open)."""
    frozen_clock.advance(30)
    other = Client()
    sign_in_with_code(other, alice_with_totp.email, SEED20, frozen_clock)
    return other


# --- 1. a new phone's key belongs to the session that unlocked it ---------------------------


def test_another_session_cannot_see_or_confirm_a_new_phone_key_it_did_not_unlock(
    verified_client: Client,
    other_session: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
) -> None:
    """A session that typed the password and the code for a new phone gets a key; another
    session of the same user (recently signed in, so past Confirm your password) must not
    be able to read that key or bind its own app with it."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    new_key = shown_key(verified_client)

    response = other_session.get(SETUP)
    assert response.status_code == 302 and response.url == MANAGE
    assert NEW_PHONE_SETUP_ELSEWHERE in messages_of(other_session)
    frozen_clock.advance(30)
    response = other_session.post(CONFIRM, {"code": frozen_clock.code(new_key)})
    assert response.status_code == 302 and response.url == MANAGE
    assert device_key(alice_with_totp) == SEED20, "another session bound the new key"
    # "Get a new key instead" from the other session neither swaps the key nor counts.
    response = other_session.post(START, {"fresh": "1"})
    assert response.status_code == 302 and response.url == MANAGE
    assert shown_key(verified_client) == new_key
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 0

    # The session that unlocked it finishes the job.
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(new_key)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice_with_totp) == new_key


def test_get_a_new_key_on_the_new_phone_page_needs_nothing_more_and_counts_nothing(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """The new-phone page's "Get a new key instead" is part of the setup this session just
    unlocked with the password and code: no second password, no refusal counted, no email."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    first = shown_key(verified_client)
    setup_page = verified_client.get(SETUP).content.decode()
    assert "<h1>Set up a new phone</h1>" in setup_page
    assert 'name="password"' not in setup_page
    mails_before = len(mail.outbox)

    start(verified_client, fresh="1")
    second = shown_key(verified_client)
    assert second != first
    assert CodeFailure.objects.filter(user=alice_with_totp).count() == 0
    assert len(mail.outbox) == mails_before
    frozen_clock.advance(30)
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(second)})
    assert response.status_code == 302 and response.url == DONE
    assert device_key(alice_with_totp) == second


def test_first_enrolment_pages_say_enable_2fa(client: Client, alice: User) -> None:
    sign_in(client, alice.email)
    start(client)
    assert "<h1>Enable 2FA</h1>" in client.get(SETUP).content.decode()
    assert "<h1>Enable 2FA</h1>" in client.get(CONFIRM).content.decode()


# --- 3. a lock reached by wrong passwords is recorded and emailed ---------------------------


def test_a_lock_reached_with_wrong_passwords_is_recorded_and_emailed(
    verified_client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    """Wrong passwords on Confirm your password count under the code step's limits; the one
    that locks it writes the lock into the audit trail and tells the user by email, as a
    wrong code that locks it does."""
    GuessingState.objects.filter(user=alice_with_totp).update(
        consecutive_failures=99, last_failure_at=clock.utcnow() - timedelta(days=1)
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = verified_client.post(
            "/account/confirm-password/", {"password": "not my password", "next": "/"}
        )
    assert response.status_code == 400
    assert "the code step of this account is locked" in response.content.decode()  # at once
    locked = SecurityEvent.objects.get(kind=EventKind.CODE_STEP_LOCKED, subject=alice_with_totp)
    assert locked.reason == "wrong passwords: confirm your password"
    assert "code step is locked" in mail.outbox[-1].subject
    assert "wrong codes or passwords" in mail.outbox[-1].body
    # Wrong passwords come from someone who does not know it, in a signed-in browser.
    assert "be using a browser where you are still signed in" in mail.outbox[-1].body
    assert GuessingState.objects.get(user=alice_with_totp).locked_at is not None


def test_a_right_password_alone_does_not_reset_the_growing_wait(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """Only the second factor resets the streak of failures: otherwise the password typed on
    Confirm your password between guesses of the code would undo every growing wait."""
    GuessingState.objects.filter(user=alice_with_totp).update(
        consecutive_failures=4, last_failure_at=clock.utcnow() - timedelta(minutes=1)
    )
    response = verified_client.post(
        "/account/confirm-password/", {"password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 302 and response.url == "/"
    assert GuessingState.objects.get(user=alice_with_totp).consecutive_failures == 4


# --- 4. two tabs: a session ended or rotated by the other tab -------------------------------


def interrupted(client: Client, request: HttpRequest) -> HttpResponse:
    """Run ``request`` in ``client``'s session while "another tab" ends that session."""
    key = client.session.session_key
    request.COOKIES["sessionid"] = key  # type: ignore[index]

    def view_while_the_other_tab_rotates(request: HttpRequest) -> HttpResponse:
        request.session["seen"] = True  # this request writes its session...
        Session.objects.filter(session_key=key).delete()  # ...which the other tab ended
        return HttpResponse("done")

    return TwoTabsSessionMiddleware(view_while_the_other_tab_rotates)(request)


def test_a_request_whose_session_another_tab_ended_gets_a_page_not_a_400(
    client: Client, alice: User, rf: RequestFactory
) -> None:
    """Two tabs submit at once; one rotates or ends the session (sign-in, 2FA on or off,
    sign-out). Django then refuses to save the other request's session (SessionInterrupted,
    a bare 400). Twostep sends that request to a page that says what happened."""
    sign_in(client, alice.email)
    key = client.session.session_key
    request = rf.post(DISABLE, HTTP_REFERER="http://testserver/account/2fa/disable/")
    request.COOKIES["sessionid"] = key

    def view_while_the_other_tab_rotates(request: HttpRequest) -> HttpResponse:
        request.session["seen"] = True  # this request writes its session...
        Session.objects.filter(session_key=key).delete()  # ...which the other tab ended
        return HttpResponse("done")

    response = TwoTabsSessionMiddleware(view_while_the_other_tab_rotates)(request)
    assert response.status_code == 303
    assert response["Location"] == "/session-changed/?next=%2Faccount%2F2fa%2Fdisable%2F"

    page = Client().get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "changed in another tab or window at the same moment" in text
    assert "could not finish" not in text  # the view's work may well be done
    assert "What you asked for may already be done" in text
    assert 'href="/account/2fa/disable/"' in text


@pytest.mark.parametrize(
    ("path", "referer", "back"),
    [
        # A POST-only URL (405 on GET): back to the page the form was on.
        ("/account/2fa/recovery-codes/", "http://testserver/account/2fa/", "/account/2fa/"),
        ("/account/2fa/recovery-codes/", "", "/"),
        ("/account/2fa/recovery-codes/", "https://evil.example/account/2fa/", "/"),
        ("/account/2fa/recovery-codes/", "//evil.example/x", "/"),
    ],
)
def test_after_an_interrupted_post_the_page_links_to_a_page_that_opens(
    client: Client, alice: User, rf: RequestFactory, path: str, referer: str, back: str
) -> None:
    sign_in(client, alice.email)
    request = rf.post(path, HTTP_REFERER=referer) if referer else rf.post(path)
    response = interrupted(client, request)
    assert response.status_code == 303
    page = Client().get(response["Location"]).content.decode()
    assert f'<a class="button primary" href="{back}">Open the page again</a>' in page
    sign_in(client, alice.email)
    assert client.get(back).status_code == 200


def test_the_session_changed_page_links_only_into_the_site(client: Client) -> None:
    page = client.get("/session-changed/", {"next": "https://evil.example/steal"})
    assert '<a class="button primary" href="/">Open the page again</a>' in page.content.decode()


# --- 5, 6. recovery codes: their own message, and a use to confirm a change says so ----------


def test_a_recovery_code_that_confirms_a_change_is_recorded_and_emailed_as_such(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    codes = replace_codes(alice_with_totp)
    response = verified_client.post(DISABLE, {"password": PASSWORD, "code": codes[0]})
    assert response.status_code == 302 and response.url == MANAGE
    used = SecurityEvent.objects.get(kind=EventKind.RECOVERY_CODE_USED, subject=alice_with_totp)
    assert used.reason == "to confirm a change; 9 left"
    sent = next(m for m in mail.outbox if "recovery code" in m.subject)
    assert sent.subject.endswith("A recovery code was used to confirm a change")
    assert "to confirm a change to 2FA" in sent.body and "to sign in" not in sent.body
    activity = verified_client.get("/account/activity/").content.decode()
    assert "Recovery code used to sign in" not in activity


def test_a_used_recovery_code_for_a_change_gets_the_recovery_code_message(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    codes = replace_codes(alice_with_totp)
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=codes[1])
    response = verified_client.post(DISABLE, {"password": PASSWORD, "code": codes[1]})
    text = response.content.decode()
    assert response.status_code == 200
    assert "That recovery code is not right, or it was already used" in text
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


# --- 8. Back after turning 2FA on --------------------------------------------------------------


def test_back_after_enabling_shows_manage_2fa_without_an_expired_setup_message(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    sign_in(client, alice.email)
    enrol(client, frozen_clock)
    response = client.get(CONFIRM)  # the browser's Back button
    assert response.status_code == 302 and response.url == MANAGE
    assert "expired" not in messages_of(client)


def test_an_expired_setup_still_says_so(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    sign_in(client, alice.email)
    start(client)
    frozen_clock.advance(11 * 60)
    with override_settings(TWOSTEP_REAUTH_SECONDS=3600):
        response = client.get(CONFIRM)
    assert response.status_code == 302 and response.url == MANAGE
    assert "This 2FA setup has expired" in messages_of(client)
    assert current_pending(alice) is None


# --- 10. wording and methods ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "said"), [(900, "the next 15 minutes."), (45, "the next 45 seconds.")]
)
def test_confirm_password_says_how_long_it_lasts_in_words(
    client: Client, alice: User, frozen_clock: FrozenClock, seconds: int, said: str
) -> None:
    sign_in(client, alice.email)
    with override_settings(TWOSTEP_REAUTH_SECONDS=seconds):
        page = client.get("/account/confirm-password/").content.decode()
    assert f"You will not be asked again for {said}" in page
    assert "0 minutes" not in page


def test_a_head_request_to_a_page_that_needs_a_recent_password_leaves_no_message(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    sign_in(client, alice.email)
    start(client)
    frozen_clock.advance(16 * 60)
    response = client.head(SETUP)
    assert response.status_code == 302
    assert response.url.startswith("/account/confirm-password/")
    assert "Nothing was changed" not in messages_of(client)
    response = client.post(CONFIRM, {"code": "123456"})
    assert "Nothing was changed" in messages_of(client, "/account/confirm-password/")


# --- round 2 review: every pending key belongs to one session, for a bounded time ----------


def test_one_password_and_code_cannot_be_stretched_by_asking_for_new_keys(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """ "Get a new key instead" makes a new key for the session that typed the password and
    code, but the hold still ends ten minutes after that check: asking for a new key every
    nine minutes does not keep the new-phone setup open for hours."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    frozen_clock.advance(9 * 60)
    start(verified_client, fresh="1")
    second = shown_key(verified_client)
    frozen_clock.advance(2 * 60)  # 11 minutes after the password and code; the key is 2 old
    for response in (verified_client.get(SETUP), verified_client.post(START, {"fresh": "1"})):
        assert response.status_code == 302 and response.url == MANAGE
    assert ASK_FOR_BOTH in messages_of(verified_client)
    response = verified_client.post(CONFIRM, {"code": frozen_clock.code(second)})
    assert response.status_code == 302 and response.url == MANAGE
    assert device_key(alice_with_totp) == SEED20


def test_another_session_never_sees_the_key_of_a_first_enrolment(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    """The first Enable 2FA too: a second session of the same user (signed in recently, so
    past Confirm your password) is not shown the key being scanned elsewhere. If it presses
    Enable 2FA itself it gets a key of its own, and the first session's key is gone."""
    sign_in(client, alice.email)
    other = Client()
    sign_in(other, alice.email)
    start(client)
    first = shown_key(client)
    assert shown_key(client) == first  # a reload (or a second tab: the same session)

    response = other.get(SETUP)
    assert response.status_code == 302 and response.url == MANAGE
    assert SETUP_ELSEWHERE in messages_of(other)
    response = other.post(CONFIRM, {"code": frozen_clock.code(first)})
    assert response.status_code == 302 and response.url == MANAGE
    assert not TwoFactorDevice.objects.filter(user=alice).exists()

    start(other)
    own = shown_key(other)
    assert own != first
    assert client.get(SETUP).status_code == 302  # the first session's key was replaced
    assert "Enable 2FA was started again in another browser or window" in messages_of(client)
    frozen_clock.advance(30)
    enrol(other, frozen_clock)
    assert device_key(alice) == own


def test_an_expired_new_phone_setup_names_the_button_that_starts_it_again(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """A user with 2FA on has no Enable 2FA button: the message names Set up a new phone, on
    the key page as on the code page."""
    frozen_clock.advance(30)
    start(verified_client, password=PASSWORD, code=frozen_clock.code(SEED20))
    frozen_clock.advance(11 * 60)
    for method, path in (("get", SETUP), ("post", CONFIRM)):
        response = getattr(verified_client, method)(path, {"code": "1"})
        assert response.status_code == 302 and response.url == MANAGE
        said = messages_of(verified_client)
        assert "Start again with Set up a new phone." in said and "Enable 2FA" not in said


def test_a_recovery_code_lost_to_a_concurrent_request_is_not_reported_as_a_wrong_code(
    verified_client: Client,
    alice_with_totp: User,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A double submit of one recovery code: the request that loses the race is told the
    code is used, counted as a replay, and sends no "a wrong code was entered" email."""
    from twostep import recovery_codes
    from twostep.twofactor.models import RecoveryCode

    codes = replace_codes(alice_with_totp)
    real_matches = recovery_codes.matches

    def the_other_request_wins(canonical: str, digest: str, salt: str = "") -> bool:
        found = real_matches(canonical, digest, salt)
        if found:  # the concurrent request marks it used between the match and the update
            RecoveryCode.objects.filter(digest=digest).update(used_at=clock.utcnow())
        return found

    monkeypatch.setattr(recovery_codes, "matches", the_other_request_wins)
    mails_before = len(mail.outbox)
    response = verified_client.post(DISABLE, {"password": PASSWORD, "code": codes[0]})
    assert response.status_code == 200
    assert "That recovery code is not right, or it was already used" in response.content.decode()
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    refused = SecurityEvent.objects.get(kind=EventKind.CODE_REFUSED, subject=alice_with_totp)
    assert refused.reason == "reauth: recovery_code_replayed"
    assert all("wrong code" not in m.subject for m in mail.outbox[mails_before:])


def test_a_key_replaced_between_the_check_and_the_confirmation_is_not_bound(
    alice: User, frozen_clock: FrozenClock, rf: RequestFactory
) -> None:
    """The confirmation names the key the session was shown: if another session replaced
    it a moment earlier, the code (of either key) binds nothing."""
    from twostep.http import Client as HttpClient
    from twostep.twofactor import enrolment
    from twostep.twofactor.outcomes import CodeOutcome

    shown = enrolment.start_enrolment(alice)
    replaced = enrolment.start_enrolment(alice)
    request = rf.post(CONFIRM)
    for key in (shown, replaced):
        code = frozen_clock.code(unseal(alice.pk, key.encrypted_key))
        check, codes = enrolment.confirm_enrolment(
            request, alice, shown, code, HttpClient.from_request(request)
        )
        assert check.outcome is CodeOutcome.NO_KEY and codes == []
    assert not TwoFactorDevice.objects.filter(user=alice).exists()
