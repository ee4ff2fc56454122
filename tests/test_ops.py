"""Operations: health endpoints, 503 when the database is down, JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory

from twostep.ops import health
from twostep.ops.errors import server_error
from twostep.ops.logs import JsonFormatter


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_answers_without_a_session(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "not configured"}
    assert "sessionid" not in response.cookies
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_health_is_503_when_the_database_fails(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, str]:
        return {"database": "unreachable: OperationalError", "redis": "not configured"}

    monkeypatch.setattr("twostep.ops.middleware.dependency_status", broken)
    assert client.get("/healthz").status_code == 503
    assert not health.healthy(broken())


def test_a_database_error_gives_a_clear_503_page() -> None:
    request = RequestFactory().get("/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"briefly unavailable" in response.content and b"Nothing you sent" in response.content
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500


def test_log_lines_are_json_with_their_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "twostep.request",
            "msg": "request",
            "levelname": "INFO",
            "status": 200,
            "path": "/login/",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["status"] == 200 and line["path"] == "/login/"
    assert line["logger"] == "twostep.request" and "time" in line


@pytest.mark.django_db
def test_every_request_and_security_event_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="twostep"):
        client.post("/login/", {"email": "nobody@example.com", "password": "wrong password 1"})
    kinds = [(r.name, getattr(r, "kind", None), getattr(r, "status", None)) for r in caplog.records]
    assert ("twostep.security", "login_failed", None) in kinds
    assert ("twostep.request", None, 200) in kinds
    assert all("wrong password 1" not in JsonFormatter().format(r) for r in caplog.records)


@pytest.mark.django_db
def test_a_503_during_a_database_outage_still_gets_its_request_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the cluster test: the request logger must not query the database again."""
    from twostep.accounts.models import User

    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_user("ops@example.com", "x" * 20, full_name="Ops"))

    def database_down(request: object) -> User:
        raise OperationalError("connection refused")

    monkeypatch.setattr("django.contrib.auth.get_user", database_down)
    with caplog.at_level(logging.INFO, logger="twostep.request"):
        response = client.get("/")
    assert response.status_code == 503
    lines = [r for r in caplog.records if r.name == "twostep.request"]
    assert [getattr(r, "status", None) for r in lines] == [503]


def test_the_503_page_speaks_the_request_language() -> None:
    from django.utils import translation

    request = RequestFactory().get("/")
    with translation.override("nl"):
        try:
            raise OperationalError("down")
        except OperationalError:
            response = server_error(request)
    assert response.status_code == 503
    assert b'lang="nl"' in response.content and b"even niet beschikbaar" in response.content
