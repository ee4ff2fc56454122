"""Issue 5 section 2: an office admin requires 2FA with a grace period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import SEED20, FrozenClock, enable_two_factor, log_in_password
from twostep import clock
from twostep.accounts.models import Office, User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.http import Client as RequestClient
from twostep.twofactor.removal import helpdesk_reset


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("ada@example.com", full_name="Ada Admin", role=User.Role.OFFICE_ADMIN)


@pytest.fixture
def admin_client(admin: User, frozen_clock: FrozenClock) -> Client:
    """Signed in on the frozen clock, so that the sign-in counts as a recent password."""
    c = Client()
    c.force_login(admin)
    return c


def turn_on(admin_client: Client, days: int = 14) -> None:
    # The users joined before the policy, on the same (frozen) clock that the policy reads.
    User.objects.update(date_joined=clock.utcnow() - timedelta(days=30))
    response = admin_client.post(
        "/administration/policy/", {"require_2fa": "on", "grace_days": days}
    )
    assert response.status_code == 302


def test_turning_the_policy_on_and_off_is_audited(
    admin_client: Client, admin: User, office: Office, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 7)
    office.refresh_from_db()
    assert office.require_2fa_since == frozen_clock.now and office.grace_days == 7
    admin_client.post("/administration/policy/", {"grace_days": 7})
    office.refresh_from_db()
    assert office.require_2fa_since is None
    reasons = list(
        SecurityEvent.objects.filter(kind=EventKind.OFFICE_POLICY_CHANGED)
        .order_by("at", "id")
        .values_list("reason", "actor")
    )
    assert reasons == [("2FA required, 7 days grace", admin.pk), ("2FA optional", admin.pk)]


def test_bad_grace_period_changes_nothing(admin_client: Client, office: Office) -> None:
    for days in ("-1", "91", "lots", ""):
        admin_client.post("/administration/policy/", {"require_2fa": "on", "grace_days": days})
    office.refresh_from_db()
    assert office.require_2fa_since is None and office.grace_days == 14


def test_members_cannot_change_the_policy(alice: User, office: Office) -> None:
    c = Client()
    c.force_login(alice)
    assert (
        c.post("/administration/policy/", {"require_2fa": "on", "grace_days": 1}).status_code == 403
    )
    office.refresh_from_db()
    assert office.require_2fa_since is None


def test_inside_the_grace_period_sign_in_leads_to_enable_2fa(
    admin_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 14)
    c = Client()
    response = log_in_password(c, alice.email, next_url="/account/activity/")
    assert response.status_code == 302
    page = c.get(response.url, follow=True)
    assert page.request["PATH_INFO"] == "/account/2fa/"
    assert b"requires two-factor authentication by" in page.content
    assert c.get("/account/activity/").status_code == 200  # still free to go elsewhere
    listing = admin_client.get("/administration/users/").content.decode()
    assert "Grace until" in listing


def test_after_the_grace_period_only_the_2fa_setup_is_reachable(
    admin_client: Client, admin: User, alice: User, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 2)
    frozen_clock.advance(timedelta(days=2, seconds=1).total_seconds())
    c = Client()
    log_in_password(c, alice.email)
    for path in ("/", "/account/activity/", "/account/password/"):
        response = c.get(path)
        assert response.status_code == 302 and response.url == "/account/2fa/", path
    assert c.get("/account/2fa/").status_code == 200
    # The language switcher still works: the setup must be readable in the user's language.
    switched = c.post("/i18n/setlang/", {"language": "nl", "next": "/account/2fa/"})
    assert switched.status_code == 302 and switched.url == "/account/2fa/"
    assert '<html lang="nl">' in c.get("/account/2fa/").content.decode()
    c.post("/i18n/setlang/", {"language": "en", "next": "/account/2fa/"})
    assert c.post("/account/2fa/enable/").url == "/account/2fa/enable/key/"
    # The policy binds the admin too (signed in again: two days end any session); with 2FA
    # on, she sees alice overdue.
    assert admin_client.get("/administration/users/").url.startswith("/login/")
    admin_client.force_login(admin)
    assert admin_client.get("/administration/users/").url == "/account/2fa/"
    enable_two_factor(admin, SEED20)
    assert "Overdue since" in admin_client.get("/administration/users/").content.decode()
    enable_two_factor(alice, SEED20)
    assert c.get("/").status_code == 200


def test_reminder_email_and_helpdesk_reset_still_works(
    admin_client: Client, admin: User, alice: User, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 14)
    response = admin_client.post(f"/administration/users/{alice.pk}/remind/")
    assert response.status_code == 302
    assert mail.outbox[-1].to == [alice.email]
    assert "requires two-factor authentication" in mail.outbox[-1].body
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_REMINDER_SENT).count() == 1
    # A user who has 2FA needs no reminder; the reset puts them back to enrolling.
    enable_two_factor(alice, SEED20)
    sent = len(mail.outbox)
    admin_client.post(f"/administration/users/{alice.pk}/remind/")
    assert len(mail.outbox) == sent
    frozen_clock.advance(timedelta(days=15).total_seconds())
    helpdesk_reset(None, alice, "TICKET-5 lost phone", RequestClient("", "cli"))
    c = Client()
    log_in_password(c, alice.email)
    assert c.get("/").url == "/account/2fa/"


def test_admin_of_another_office_cannot_remind(
    admin_client: Client, make_user: Callable[..., User]
) -> None:
    elsewhere = Office.objects.create(name="Elsewhere")
    other = make_user("zoe@elsewhere.example", office=elsewhere)
    assert admin_client.post(f"/administration/users/{other.pk}/remind/").status_code == 404


def test_a_reminder_the_mail_server_refused_is_said_and_not_recorded(
    admin_client: Client,
    alice: User,
    frozen_clock: FrozenClock,
    mail_server_down: pytest.LogCaptureFixture,
) -> None:
    turn_on(admin_client, 14)
    response = admin_client.post(f"/administration/users/{alice.pk}/remind/", follow=True)
    assert b"could not be sent: the mail server did not take it" in response.content
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_REMINDER_SENT).count() == 0


def test_an_admin_without_2fa_who_requires_it_at_once_is_told_they_are_included(
    admin_client: Client, admin: User, office: Office
) -> None:
    User.objects.update(date_joined=clock.utcnow() - timedelta(days=30))
    response = admin_client.post(
        "/administration/policy/", {"require_2fa": "on", "grace_days": 0}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/account/2fa/"
    assert "you included: turn it on with Enable 2FA" in response.content.decode()
    office.refresh_from_db()
    assert office.require_2fa_since is not None  # saved, as asked


def test_a_sign_in_after_the_deadline_says_since_not_by(
    admin_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 3)
    frozen_clock.advance(timedelta(days=4).total_seconds())
    c = Client()
    log_in_password(c, alice.email)
    page = c.get("/account/2fa/").content.decode()
    assert "Your office has required two-factor authentication since" in page
    assert "requires two-factor authentication by" not in page


def test_a_second_reminder_within_the_hour_sends_nothing_and_says_so(
    admin_client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    turn_on(admin_client, 14)
    admin_client.post(f"/administration/users/{alice.pk}/remind/")
    sent = len(mail.outbox)
    response = admin_client.post(f"/administration/users/{alice.pk}/remind/", follow=True)
    assert "less than an hour ago, so none was sent now" in response.content.decode()
    assert len(mail.outbox) == sent
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_REMINDER_SENT).count() == 1
    frozen_clock.advance(3601)
    admin_client.post(f"/administration/users/{alice.pk}/remind/")
    assert len(mail.outbox) == sent + 1


def test_an_admin_is_not_offered_a_reminder_to_themselves(
    admin_client: Client, admin: User, alice: User
) -> None:
    turn_on(admin_client, 14)
    page = admin_client.get("/administration/users/").content.decode()
    assert f"/administration/users/{alice.pk}/remind/" in page
    assert f"/administration/users/{admin.pk}/remind/" not in page
    admin_client.post(f"/administration/users/{admin.pk}/remind/")
    assert mail.outbox == []
