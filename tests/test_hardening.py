"""Web hardening (issue 3 section 7): no GET changes state, CSRF on every form, security
headers, no inline scripts, production settings pass `check --deploy` and refuse dev values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import (
    AGENT_KEY,
    PASSWORD,
    SEED20,
    FrozenClock,
    enable_two_factor,
    log_in_password,
)
from twostep.accounts.models import User
from twostep.audit.models import SecurityEvent
from twostep.twofactor.models import CodeFailure, GuessingState, PendingEnrolment, TwoFactorDevice

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "twostep" / "templates"


def all_paths(user_id: int) -> list[str]:
    """Every URL of the site, built from the URL configuration (int parameters filled in)."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[str]:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, route)
            else:
                yield route

    paths = []
    for route in walk(get_resolver().url_patterns, "/"):
        route = route.replace("^", "").replace("$", "").replace("\\Z", "")
        route = re.sub(r"<int:[^>]+>", str(user_id), route)
        route = re.sub(r"<(?:str:|slug:)?[^>]+>", "x", route)
        route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)
        if "(" in route or "[" in route:
            continue  # admin regexes for other apps' objects
        paths.append(route)
    return sorted(set(paths))


def snapshot() -> tuple[object, ...]:
    return (
        list(TwoFactorDevice.objects.values_list("user_id", "encrypted_key", "last_used_step")),
        list(PendingEnrolment.objects.values_list("user_id", "encrypted_key")),
        list(GuessingState.objects.values_list("user_id", "consecutive_failures", "locked_at")),
        CodeFailure.objects.count(),
        list(User.objects.values_list("pk", "password", "security_stamp", "is_active")),
        SecurityEvent.objects.count(),
    )


@pytest.fixture
def clients(
    client: Client, alice_with_totp: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> dict[str, Client]:
    admin = make_user("admin@example.com", role=User.Role.OFFICE_ADMIN, full_name="Ada")
    agent = make_user("agent@example.com", office=None, is_staff=True, full_name="Hal")
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    enable_two_factor(agent, AGENT_KEY)
    make_user("bob@example.com", full_name="Bob")  # a user without 2FA
    result = {"anonymous": Client()}
    pending = Client()
    log_in_password(pending, alice_with_totp.email)
    result["pending"] = pending
    verified = Client()
    log_in_password(verified, alice_with_totp.email)
    verified.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    result["verified"] = verified
    for name, user in (("admin", admin), ("agent", agent)):
        c = Client()
        log_in_password(c, user.email)
        result[name] = c
    return result


@pytest.mark.django_db
def test_no_get_changes_state_and_none_fails(clients: dict[str, Client], alice: User) -> None:
    """Walk every URL with GET as every kind of visitor: no 5xx, and nothing stored changes."""
    paths = all_paths(alice.pk)
    assert "/account/2fa/disable/" in paths and f"/helpdesk/users/{alice.pk}/" in paths
    before = snapshot()
    for who, c in clients.items():
        for path in paths:
            response = c.get(path)
            assert response.status_code < 500, (who, path, response.status_code)
    assert snapshot() == before


@pytest.mark.django_db
def test_every_post_needs_the_csrf_token(alice_with_totp: User, frozen_clock: FrozenClock) -> None:
    strict = Client(enforce_csrf_checks=True)
    for path in ["/login/", "/login/code/", "/logout/", "/password-reset/"]:
        assert strict.post(path, {"email": alice_with_totp.email}).status_code == 403, path
    strict.force_login(alice_with_totp)
    for path in all_paths(alice_with_totp.pk):
        if path.startswith(("/django-admin/", "/static/")):
            continue
        response = strict.post(path, {"password": PASSWORD, "code": "123456"})
        assert response.status_code in {403, 405}, (path, response.status_code)
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()


@pytest.mark.django_db
def test_security_headers_on_every_page(clients: dict[str, Client], alice: User) -> None:
    """S23 no-store on key and code pages; CSP without inline script; DENY; same-origin."""
    for who, c in clients.items():
        for path in ["/login/", "/login/code/", "/", "/account/2fa/"]:
            response = c.get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (who, path)
            assert "frame-ancestors 'none'" in csp
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert "no-store" in response.headers["Cache-Control"], (who, path)
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_script_or_style() -> None:
    """The CSP forbids inline code, so no template may rely on it."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert " style=" not in text and "<style" not in text, template


def run_django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TWOSTEP_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "twostep", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "TWOSTEP_ENV": "production",
    "TWOSTEP_SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-only-0123456789",
    "TWOSTEP_KEY_RING": "k1:" + "A" * 43 + "=",
    "TWOSTEP_ALLOWED_HOSTS": "portal.example",
    "EMAIL_HOST": "smtp.portal.example",
}


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    result = run_django(
        {**PRODUCTION, "TWOSTEP_DATA_DIR": str(tmp_path)},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["TWOSTEP_SECRET_KEY", "TWOSTEP_KEY_RING", "TWOSTEP_ALLOWED_HOSTS", "EMAIL_HOST"]
)
def test_production_refuses_a_missing_value(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_django({**env, "TWOSTEP_DATA_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert missing in result.stderr
    assert not (tmp_path / "local-secrets.json").exists()


def test_a_broken_key_ring_stops_the_start(tmp_path: Path) -> None:
    result = run_django(
        {"TWOSTEP_KEY_RING": "k1:not-base64!", "TWOSTEP_DATA_DIR": str(tmp_path)}, "check"
    )
    assert result.returncode != 0 and "twostep.E001" in result.stderr


def test_sessions_in_a_per_process_cache_are_refused() -> None:
    """Issue 3 section 2: a store that each worker keeps for itself is refused at start."""
    from django.test import override_settings

    from twostep.twofactor.checks import check_shared_state

    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    ):
        assert [e.id for e in check_shared_state()] == ["twostep.E003"]
    assert check_shared_state() == []


COOKIE_CHECK = """
from django.core.management import call_command
from django.test import Client
from twostep.accounts.models import User
call_command("migrate", verbosity=0)
User.objects.create_user("ops@portal.example", "a long production passphrase", full_name="Ops")
c = Client(HTTP_HOST="portal.example")
r = c.post("/login/", {"email": "ops@portal.example", "password": "a long production passphrase"},
           secure=True)
for name, morsel in r.cookies.items():
    print(name, repr(morsel.OutputString()))
"""


def test_s43_production_cookies_are_host_prefixed_secure_httponly_lax(tmp_path: Path) -> None:
    result = run_django(
        {**PRODUCTION, "TWOSTEP_DATA_DIR": str(tmp_path)}, "shell", "-c", COOKIE_CHECK
    )
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if line and not line.startswith("{")]
    lines = dict(line.split(" ", 1) for line in printed)  # (the JSON lines are the app's logs)
    session = lines["__Host-twostep-session"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in session, session
    assert "Domain" not in session
