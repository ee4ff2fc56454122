"""Issue 3 items shown end to end: the SIEM export, the user's and the helpdesk's view of
security events, timeouts, HTTPS in production, purging expired keys, no secret in log lines."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, override_settings

from tests.conftest import AGENT_KEY, SEED20, FrozenClock, enable_two_factor, log_in_password
from twostep.accounts.models import User
from twostep.ops.logs import JsonFormatter
from twostep.twofactor.models import PendingEnrolment
from twostep.twofactor.storage import unseal


def test_export_writes_one_json_line_per_event_without_secrets(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    pending_client.post("/login/code/", {"code": "000000"})
    frozen_clock.advance(2)
    pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    out = io.StringIO()
    call_command("export_security_events", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds[:1] == ["password_accepted"] and "code_refused" in kinds
    assert kinds[-2:] == ["code_accepted", "login_succeeded"]
    assert {"at", "actor", "subject", "client_address", "user_agent", "reason"} <= set(lines[0])
    assert "000000" not in out.getvalue() and frozen_clock.code(SEED20) not in out.getvalue()
    since = io.StringIO()
    call_command("export_security_events", "--since", "2100-01-01T00:00:00+00:00", stdout=since)
    assert since.getvalue() == ""


def test_users_and_agents_see_the_events(
    pending_client: Client,
    alice_with_totp: User,
    make_user: Callable[..., User],
    frozen_clock: FrozenClock,
) -> None:
    pending_client.post("/login/code/", {"code": "000000"})
    frozen_clock.advance(2)
    pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    mine = pending_client.get("/account/activity/").content.decode()
    assert "Code refused" in mine and "Signed in" in mine
    agent = make_user("agent@example.com", office=None, is_staff=True)
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    enable_two_factor(agent, AGENT_KEY)
    c = Client()
    c.force_login(agent)
    page = c.get(f"/helpdesk/users/{alice_with_totp.pk}/").content.decode()
    assert "Code refused" in page and "Signed in" in page


@override_settings(SESSION_COOKIE_AGE=1)
def test_s44_a_session_ends_after_inactivity(alice: User) -> None:
    c = Client()
    assert log_in_password(c, alice.email).url == "/"
    time.sleep(2.1)
    response = c.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


@override_settings(SECURE_SSL_REDIRECT=True)
def test_s63_http_is_redirected_before_anything_is_processed(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    fresh = Client()  # a client whose middleware is built with the setting on
    fresh.cookies = pending_client.cookies
    response = fresh.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 301 and response.url.startswith("https://")
    assert "_auth_user_id" not in fresh.session
    assert User.objects.get(pk=alice_with_totp.pk).two_factor_device.last_used_step == 0


def test_s38_purge_deletes_abandoned_pending_keys(
    client: Client, alice: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    frozen_clock.advance(timedelta(minutes=11).total_seconds())
    bob = make_user("bob@example.com", full_name="Bob")
    other = Client()
    other.force_login(bob)
    other.post("/account/2fa/enable/")  # still live
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    assert "Deleted 1 expired pending keys" in out.getvalue()
    assert list(PendingEnrolment.objects.values_list("user_id", flat=True)) == [bob.pk]


def test_s22_no_key_or_code_in_any_json_log_line(
    client: Client, alice: User, frozen_clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.force_login(alice)
        client.post("/account/2fa/enable/")
        key = unseal(alice.pk, PendingEnrolment.objects.get(user=alice).encrypted_key)
        code = frozen_clock.code(key)
        client.post("/account/2fa/enable/code/", {"code": code})
        client.post("/logout/")
        frozen_clock.advance(60)
        c = Client()
        log_in_password(c, alice.email)
        later = frozen_clock.code(key)
        c.post("/login/code/", {"code": later})
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "security_event" in text
    import base64

    for secret in (key.hex(), base64.b32encode(key).decode().rstrip("="), code, later):
        assert secret not in text
