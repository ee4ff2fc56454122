"""C06 / S11: one code, one use, under real concurrency against a running gunicorn,
on SQLite and on PostgreSQL (a real database server)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.live_server import (
    HttpClient,
    LiveServer,
    Response,
    key_from_setup_page,
    oathtool_codes,
    start_server,
)

pytestmark = pytest.mark.e2e
PASSWORD = "a long and unguessable passphrase 7"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    database_url = None
    name = f"twostep_live_{uuid.uuid4().hex[:10]}"
    if request.param == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database_url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    live = start_server(tmp_path / "server", database_url, workers=2, threads=8)
    try:
        yield live
    finally:
        live.stop()
        if database_url:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enrol(live: LiveServer, email: str) -> str:
    """Create a user and turn on 2FA through the HTTP flow; returns the base32 key."""
    live.manage("create_office", "Concurrency Office")
    live.manage(
        "create_user",
        email,
        "--name",
        "Alice",
        "--office",
        "Concurrency Office",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    browser = HttpClient(live.url)
    assert browser.post("/login/", {"email": email, "password": PASSWORD}).location == "/"
    assert browser.post("/account/2fa/enable/", {}).status == 302
    key = key_from_setup_page(browser.get("/account/2fa/enable/key/").text)
    done = browser.post("/account/2fa/enable/code/", {"code": oathtool_codes(key)[0]})
    assert done.location == "/account/2fa/enable/done/", done.text[:2000]
    return key


def pending_session(live: LiveServer, email: str) -> HttpClient:
    browser = HttpClient(live.url)
    assert (
        browser.post("/login/", {"email": email, "password": PASSWORD}).location == "/login/code/"
    )
    return browser


def test_c06_twenty_simultaneous_posts_of_one_code_exactly_one_succeeds(server: LiveServer) -> None:
    email = "alice@concurrency.example"
    key = enrol(server, email)
    # The next step's code: newer than the enrolment code, accepted within the +1 window.
    code = oathtool_codes(key, 2)[1]
    sessions = [pending_session(server, email), pending_session(server, email)]
    start = threading.Barrier(20)

    def submit(i: int) -> Response:
        browser = sessions[i % 2]
        token = browser.csrf_token()
        start.wait()
        return browser.post("/login/code/", {"code": code, "csrfmiddlewaretoken": token})

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(submit, range(20)))
    statuses = sorted(r.status for r in results)
    accepted = [r for r in results if r.status == 302 and r.location == "/"]
    assert not [r for r in results if r.status >= 500], server.log()
    assert len(accepted) == 1, statuses
    refused = [r for r in results if r.status == 200]
    assert refused and all(
        "already been used" in r.text or "Not yet: wait" in r.text for r in refused
    )
    assert "database is locked" not in server.log()


def test_redis_serves_sessions_and_health(tmp_path: Path) -> None:
    """With REDIS_URL, sessions are cached in Redis in front of the database, and /healthz
    reports Redis."""
    redis_url = "redis://127.0.0.1:6379/7"
    live = start_server(tmp_path / "server", None, extra_env={"REDIS_URL": redis_url})
    try:
        health = HttpClient(live.url).get("/healthz")
        assert health.status == 200 and '"redis": "ok"' in health.text
        email = "alice@redis.example"
        enrol(live, email)
        assert pending_session(live, email).get("/login/code/").status == 200
    finally:
        live.stop()
