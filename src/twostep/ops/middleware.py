"""Operations middleware: health endpoints answered before sessions, and a log line per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from twostep.http import client_address
from twostep.ops.health import dependency_status, healthy

logger = logging.getLogger("twostep.request")
HEALTH_PATHS = {"/healthz", "/readyz"}


class HealthCheckMiddleware:
    """``/healthz`` and ``/readyz``: 200 when the database (and Redis) answer, else 503.

    Answered here, before the session and auth middleware, so that a load balancer's probe
    never touches a session and a broken database gives a clean 503.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in HEALTH_PATHS and request.method in {"GET", "HEAD"}:
            status = dependency_status()
            response = JsonResponse(status, status=200 if healthy(status) else 503)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        # Only a user that the request already loaded: reading request.user here would query
        # the database again, which fails (and loses this line) when the database is down.
        user = getattr(request, "_cached_user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client": client_address(request),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response
