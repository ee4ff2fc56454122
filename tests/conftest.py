"""Shared fixtures: a frozen server clock, an office with users, users with 2FA.

Named as in the code: ``frozen_clock`` controls ``twostep.clock.utcnow`` (unit and
test-client tests only; the end-to-end tests use the real clock).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import Atomic
from django.test import Client, override_settings

from twostep import clock, otp
from twostep.accounts.models import Office, User
from twostep.twofactor.models import TwoFactorDevice
from twostep.twofactor.storage import seal

PASSWORD = "correct horse battery staple 42"
SEED20 = b"12345678901234567890"
AGENT_KEY = b"helpdesk agent key 1"  # a helpdesk agent's own 2FA key (agents need 2FA)


@dataclass
class FrozenClock:
    now: datetime

    def set(self, unix: float) -> None:
        self.now = datetime.fromtimestamp(unix, UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def unix(self) -> float:
        return self.now.timestamp()

    def code(self, key: bytes, offset_steps: int = 0) -> str:
        """The code an authenticator shows now (+ offset steps), for test-client tests."""
        return otp.code_at_step(key, otp.time_step(self.unix) + offset_steps)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime.fromtimestamp(1111111111, UTC))
    monkeypatch.setattr(clock, "utcnow", lambda: frozen.now)
    yield frozen


@pytest.fixture
def office(db: None) -> Office:
    return Office.objects.create(name="Müller & Partner Steuerberatung")


@pytest.fixture
def make_user(office: Office) -> Callable[..., User]:
    def make(email: str = "alice@example.com", **fields: object) -> User:
        fields.setdefault("full_name", "Alice Example")
        fields.setdefault("office", office)
        return User.objects.create_user(email, PASSWORD, **fields)

    return make


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user()


def enable_two_factor(user: User, key: bytes = SEED20, last_used_step: int = 0) -> None:
    """Give ``user`` a confirmed device with ``key`` (as if they had enrolled)."""
    now = clock.utcnow()
    TwoFactorDevice.objects.update_or_create(
        user=user,
        defaults={
            "encrypted_key": seal(user, key),
            "confirmed_at": now,
            "last_used_step": last_used_step,
            "last_used_at": now,
        },
    )


def make_enrolled_agent(
    email: str = "hal@helpdesk.example", name: str = "Hal Helpdesk", password: str = PASSWORD
) -> User:
    """A helpdesk agent with 2FA on (key AGENT_KEY): the helpdesk opens only for those."""
    from twostep.accounts.management.commands.create_helpdesk_agent import make_agent

    agent = make_agent(email, name, password)
    enable_two_factor(agent, AGENT_KEY)
    return agent


@pytest.fixture
def alice_with_totp(alice: User, frozen_clock: FrozenClock) -> User:
    """Alice with 2FA on, key SEED20 (RFC 6238's SHA1 seed), no code used yet."""
    enable_two_factor(alice)
    return alice


def log_in_password(client: Client, email: str, password: str = PASSWORD, next_url: str = ""):  # type: ignore[no-untyped-def]
    data = {"email": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data)


@pytest.fixture
def pending_client(client: Client, alice_with_totp: User) -> Client:
    """A client that passed the password step for alice and must now give a code."""
    response = log_in_password(client, alice_with_totp.email)
    assert response.status_code == 302 and response.url == "/login/code/"
    return client


@pytest.fixture
def verified_client(pending_client: Client, frozen_clock: FrozenClock) -> Client:
    """Alice fully signed in with password and code."""
    response = pending_client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302, response.content
    return pending_client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """An end-to-end test that skips is a failure: a missing browser must never pass silently."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and item.get_closest_marker("e2e") is not None:
        report.outcome = "failed"
        report.longrepr = f"end-to-end test skipped, which counts as a failure: {report.longrepr}"


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """The .mo catalogues are built, not committed (``make install`` compiles them): compile
    them once here when missing or older than their .po, so every test runs with them."""
    import contextlib

    from django.conf import settings
    from django.core.management import call_command
    from django.utils.translation import trans_real

    stale = False
    for locale_dir in settings.LOCALE_PATHS:
        for po in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            stale = stale or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime
        if stale:
            with contextlib.chdir(locale_dir):  # compile LOCALE_PATHS only, not the venv's
                call_command("compilemessages", verbosity=0)
    if stale:
        trans_real._translations = {}  # drop catalogues loaded before the compilation
        trans_real._default = None


def _only_test_wrappers_open(connection: BaseDatabaseWrapper) -> bool:
    """Whether the only open atomic blocks are the ones a test wraps itself in."""
    blocks = connection.atomic_blocks
    return bool(blocks) and all(getattr(b, "_from_testcase", False) for b in blocks)


@pytest.fixture(autouse=True)
def on_commit_as_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """``transaction.on_commit`` callbacks run when the product's own outermost transaction
    commits, as they do in production, not never (which is what a test wrapped in a
    transaction gives). A callback registered outside any product transaction runs at once;
    one registered in a block that rolls back is dropped by Django as usual."""
    original_on_commit = BaseDatabaseWrapper.on_commit
    original_exit = Atomic.__exit__

    def on_commit(
        self: BaseDatabaseWrapper, func: Callable[[], object], robust: bool = False
    ) -> None:
        if _only_test_wrappers_open(self):
            func()
        else:
            original_on_commit(self, func, robust)

    def exit_atomic(self: Atomic, exc_type: object, exc: object, tb: object) -> None:
        original_exit(self, exc_type, exc, tb)  # type: ignore[arg-type]
        connection = transaction.get_connection(self.using)
        if exc_type is None and _only_test_wrappers_open(connection):
            pending, connection.run_on_commit = connection.run_on_commit, []
            for _, func, _robust in pending:
                func()

    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", on_commit)
    monkeypatch.setattr(Atomic, "__exit__", exit_atomic)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mail_server_down(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Real SMTP to a loopback port where nothing listens: the connection is refused.
    Yields the log, where ``notify`` records each mail it could not send."""
    caplog.set_level(logging.ERROR, logger="twostep.audit.notify")
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=free_port(),
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
    ):
        yield caplog
