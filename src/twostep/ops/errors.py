"""The server-error page: 503 with Retry-After when the database is down, else 500.

Renders without the database (no context processors), since it may be the cause.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        body = loader.get_template("503.html").render()
        response = HttpResponse(body, status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
