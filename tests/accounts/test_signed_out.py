"""Why the sign-in page appears, and no blank 405 (found by a fresh tester in a browser: a
form sent after another tab signed out came back, after the sign-in, as Chromium's empty
"HTTP ERROR 405", with nothing said and nothing saved)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from tests.conftest import FrozenClock
from tests.test_hardening import all_paths, clients  # noqa: F401
from tests.twofa_flows import MANAGE, sign_in, sign_out
from twostep.accounts.models import User

SIGNED_OUT_POST = "You were signed out, so what you sent was not saved."
SESSION_ENDED = "You are signed out: your session ended"


def told(response: object) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))  # type: ignore[attr-defined]


@pytest.fixture
def admin(make_user: Callable[..., User], frozen_clock: FrozenClock) -> User:
    return make_user("ada@example.com", role=User.Role.OFFICE_ADMIN, full_name="Ada")


def test_no_url_answers_a_get_with_an_empty_405(
    clients: dict[str, Client],  # noqa: F811
    alice: User,
) -> None:
    for who, c in clients.items():
        for path in all_paths(alice.pk):
            response = c.get(path)
            if response.status_code == 405:
                page = response.content.decode()
                assert "Use the button on the page" in page, (who, path)
                assert "Nothing was changed." in page
                assert "POST" in response["Allow"]


def test_a_get_of_a_post_only_url_goes_back_to_the_page_that_linked_it(
    admin: User, client: Client
) -> None:
    client.force_login(admin)
    response = client.get(
        "/administration/policy/", HTTP_REFERER="http://testserver/administration/users/"
    )
    assert response.status_code == 405
    assert 'href="/administration/users/"' in response.content.decode()
    response = client.get("/administration/policy/", HTTP_REFERER="https://evil.example/")
    assert '<a class="button primary" href="/">Go back</a>' in response.content.decode()


def test_a_typed_logout_address_offers_the_button_and_signs_nobody_out(
    client: Client, alice: User
) -> None:
    sign_in(client, alice.email)
    page = client.get("/logout/")
    assert page.status_code == 200
    assert 'action="/logout/"' in page.content.decode() and "Log out" in page.content.decode()
    assert client.get(MANAGE).status_code == 200  # still signed in
    assert Client().get("/logout/").url == "/login/"


def test_a_form_sent_after_another_window_signed_out_says_it_was_not_saved(
    admin: User, frozen_clock: FrozenClock
) -> None:
    browser, other_tab = Client(), Client()
    sign_in(browser, admin.email)
    other_tab.cookies = browser.cookies  # a second tab of the same browser
    sign_out(other_tab)
    response = browser.post(
        "/administration/policy/",
        {"require_2fa": "on", "grace_days": "7"},
        HTTP_REFERER="http://testserver/administration/users/?twofa=off",
    )
    assert response.status_code == 302
    assert response.url == "/login/?next=/administration/users/%3Ftwofa%3Doff"
    login_page = browser.get(response.url)
    assert SIGNED_OUT_POST in login_page.content.decode()
    admin.office.refresh_from_db()
    assert admin.office.require_2fa_since is None  # nothing saved


def test_a_page_opened_after_the_session_ended_says_why_sign_in_is_asked(
    client: Client, alice: User
) -> None:
    sign_in(client, alice.email)
    stale = client.cookies["sessionid"].value
    sign_out(client)
    client.cookies["sessionid"] = stale  # e.g. a browser whose session another window ended
    response = client.get(MANAGE, follow=True)
    assert SESSION_ENDED in response.content.decode()


def test_a_first_visit_without_a_session_is_just_asked_to_sign_in(db: None) -> None:
    response = Client().get(MANAGE, follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert SESSION_ENDED not in response.content.decode()
