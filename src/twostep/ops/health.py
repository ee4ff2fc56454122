"""Health of the dependencies: the database and, when configured, Redis."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection


def dependency_status() -> dict[str, str]:
    status = {"database": "ok", "redis": "not configured"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        status["database"] = f"unreachable: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            cache.set("twostep:healthz", "1", timeout=10)
            status["redis"] = "ok" if cache.get("twostep:healthz") == "1" else "unreachable"
        except Exception as exc:
            status["redis"] = f"unreachable: {type(exc).__name__}"
    return status


def healthy(status: dict[str, str]) -> bool:
    return all(value in {"ok", "not configured"} for value in status.values())
