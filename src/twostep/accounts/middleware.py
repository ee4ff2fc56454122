"""Session, sign-out and response-header behaviour around Django's own middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from twostep import clock
from twostep.accounts.redirects import same_site_referer

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """CSP without inline scripts, and no-store: every page is private to one user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


class TwoTabsSessionMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, with a page instead of "400 Bad request" when another tab
    of the same browser rotated or ended the session while this request ran.

    That happens when two tabs submit at the same moment and one of them signs in, turns 2FA
    on or off, or signs out: the other request's session no longer exists when it is saved
    (Django raises SessionInterrupted). Its view has done its work or refused it; the browser
    already holds the new session cookie, so the next page shows where things stand.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted:
            logger.info("session changed by a concurrent request during %s", request.path)
            query = urlencode({"next": page_to_go_back_to(request)})
            return HttpResponseRedirect(
                f"{reverse('accounts:session_changed')}?{query}", status=303
            )


def page_to_go_back_to(request: HttpRequest) -> str:
    """A page that can be opened again: this one for a GET; for a form's POST the page the
    form was on (its Referer, on this site only), since the POST's own URL may answer 405."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return same_site_referer(request) or reverse("home")


class SignedOutMiddleware:
    """Say why the sign-in page appears, and never leave anyone on an empty 405.

    - A page that needs a sign-in, asked for by a browser whose session has ended (signed
      out in another window, a password reset, 2FA turned on elsewhere, inactivity): the
      sign-in page says so. For a form's POST it also says that what was sent was not saved,
      and comes back afterwards to the page the form was on, not to the POST-only URL.
    - A GET of a URL that only takes a button's POST (Log out, Save policy, a reminder,
      new recovery codes), from a typed address or an old link: a page that says nothing
      was changed, instead of the browser's blank "HTTP ERROR 405".
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and request.method in ("GET", "HEAD"):
            return method_not_allowed_page(request, response)
        if self.is_sign_in_redirect(request, response):
            return self.explained_sign_in_redirect(request, response)
        return response

    @staticmethod
    def is_sign_in_redirect(request: HttpRequest, response: HttpResponse) -> bool:
        if response.status_code != 302:
            return False
        target = urlsplit(response.get("Location", ""))
        if target.path != reverse("accounts:login") or "next=" not in target.query:
            return False
        return not request.user.is_authenticated

    @staticmethod
    def explained_sign_in_redirect(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        had_session = settings.SESSION_COOKIE_NAME in request.COOKIES
        if request.method not in ("GET", "HEAD"):
            messages.warning(
                request,
                _(
                    "You were signed out, so what you sent was not saved. Sign in, then do "
                    "it again."
                ),
            )
            return redirect_to_login(page_to_go_back_to(request))
        if had_session:
            messages.info(
                request,
                _(
                    "You are signed out: your session ended (signed out in another browser or "
                    "window, a password or 2FA change, or a while without activity). Sign in "
                    "again to continue."
                ),
            )
        return response


def method_not_allowed_page(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    page = render(request, "405.html", {"back": page_to_go_back_to_from_get(request)}, status=405)
    if "Allow" in response:
        page["Allow"] = response["Allow"]
    return page


def page_to_go_back_to_from_get(request: HttpRequest) -> str:
    """The same-site page that linked here, or home."""
    referer = same_site_referer(request)
    return referer if referer and urlsplit(referer).path != request.path else reverse("home")


SIGNED_IN_AT = "twostep_signed_in_at"


def remember_sign_in_time(
    sender: object, request: HttpRequest, user: object, **kwargs: object
) -> None:
    """Receiver of ``user_logged_in``: the start of the absolute session lifetime."""
    request.session[SIGNED_IN_AT] = clock.utcnow().timestamp()


class AbsoluteSessionLifetimeMiddleware:
    """Sign out a session older than TWOSTEP_SESSION_MAX_SECONDS, however active it is.

    (The inactivity timeout is Django's SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            started = request.session.get(SIGNED_IN_AT)
            limit = settings.TWOSTEP_SESSION_MAX_SECONDS
            if not isinstance(started, float) or clock.utcnow().timestamp() - started > limit:
                logout(request)
                messages.info(request, _("Your session has ended. Please sign in again."))
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in user's saved language (User.language) wins over the browser's choice.

    Runs after AuthenticationMiddleware; LocaleMiddleware has already activated the language
    from the cookie or Accept-Language, which stays in force while ``language`` is blank.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = getattr(request.user, "language", "") if request.user.is_authenticated else ""
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
