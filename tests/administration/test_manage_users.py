"""Administration > Manage users: who has 2FA in the admin's office (S56, S57, C14, C20)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import FrozenClock, enable_two_factor
from tests.twofa_flows import MANAGE_USERS, assert_no_key, sign_in
from twostep.accounts.management.commands.create_helpdesk_agent import make_agent
from twostep.accounts.models import Office, User

ALICE_LAST_LOGIN = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)


def rows(content: bytes) -> dict[str, list[str]]:
    """Table rows by email: the text of each cell."""
    found: dict[str, list[str]] = {}
    for email, body in re.findall(r'<tr data-email="([^"]*)">(.*?)</tr>', content.decode(), re.S):
        cells = re.findall(r"<td>(.*?)</td>", body, re.S)
        found[html.unescape(email)] = [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells
        ]
    return found


def bulk_users(office: Office, count: int, prefix: str = "user", with_2fa_every: int = 0) -> None:
    """Users without the cost of Argon2 (unusable passwords)."""
    created = User.objects.bulk_create(
        User(
            email=f"{prefix}{i:03d}@example.com",
            full_name=f"{prefix.title()} {i:03d}",
            office=office,
            password=make_password(None),
        )
        for i in range(count)
    )
    if with_2fa_every:
        for user in created[::with_2fa_every]:
            enable_two_factor(user, key=os.urandom(20))


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("olga@example.com", full_name="Olga Admin", role=User.Role.OFFICE_ADMIN)


@pytest.fixture
def other_office() -> Office:
    return Office.objects.create(name="Schmidt Consulting")


@pytest.fixture
def admin_client(client: Client, admin: User) -> Client:
    sign_in(client, admin.email)
    return client


@pytest.fixture
def team(
    alice_with_totp: User, make_user: Callable[..., User], other_office: Office, admin: User
) -> dict[str, User]:
    """Alice (2FA on since T0, last login known), Bob (off), Otto in another office (on)."""
    User.objects.filter(pk=alice_with_totp.pk).update(last_login=ALICE_LAST_LOGIN)
    bob = make_user("bob@example.com", full_name="Bob Builder")
    otto = make_user("otto@example.com", full_name="Otto Other", office=other_office)
    enable_two_factor(otto)
    return {"alice": alice_with_totp, "bob": bob, "otto": otto, "admin": admin}


def test_s56_admin_sees_only_own_office_with_status_columns(
    admin_client: Client, team: dict[str, User], office: Office
) -> None:
    """S56: name, email, role, 2FA on/off, since, last login; only the admin's office;
    the count line."""
    response = admin_client.get(MANAGE_USERS)
    assert response.status_code == 200
    assert html.escape(office.name).encode() in response.content
    assert b"1 of 3 users have 2FA" in response.content
    table = rows(response.content)
    assert set(table) == {"alice@example.com", "bob@example.com", "olga@example.com"}
    assert table["alice@example.com"] == [
        "Alice Example",
        "alice@example.com",
        "Member",
        "On",
        "18 Mar 2005last code 18 Mar 2005 · 0 recovery codes left",  # S56: usage, never a code
        "6 May 2024 07:08",
    ]
    assert table["bob@example.com"] == [
        "Bob Builder",
        "bob@example.com",
        "Member",
        "Off",
        "\u2013",  # en dash: no date
        "Never",
    ]
    assert table["olga@example.com"][2:4] == ["Office admin", "Off"]
    assert b"otto@example.com" not in response.content
    assert b"Otto Other" not in response.content


@pytest.mark.parametrize(
    ("twofa", "expected"),
    [
        ("on", {"alice@example.com"}),
        ("off", {"bob@example.com", "olga@example.com"}),
        ("all", {"alice@example.com", "bob@example.com", "olga@example.com"}),
        ("bogus", {"alice@example.com", "bob@example.com", "olga@example.com"}),
    ],
)
def test_s56_filter_by_2fa_status(
    admin_client: Client, team: dict[str, User], twofa: str, expected: set[str]
) -> None:
    """S56: the on/off filters list exactly the users with / without 2FA."""
    response = admin_client.get(MANAGE_USERS, {"twofa": twofa})
    assert response.status_code == 200
    assert set(rows(response.content)) == expected
    # The count line describes the whole office, whatever the filter.
    assert b"1 of 3 users have 2FA" in response.content


def test_s56_pagination(admin_client: Client, office: Office, admin: User) -> None:
    """S56: 25 users per page, pager links keep the filter, out-of-range pages clamp."""
    bulk_users(office, 30, with_2fa_every=3)  # 31 users with the admin, 10 with 2FA
    first = admin_client.get(MANAGE_USERS)
    assert b"10 of 31 users have 2FA" in first.content
    assert len(rows(first.content)) == 25
    assert b"Page 1 of 2" in first.content
    assert b'href="?twofa=all&amp;page=2">Next page</a>' in first.content

    second = admin_client.get(MANAGE_USERS, {"page": "2"})
    assert len(rows(second.content)) == 6
    assert b"Page 2 of 2" in second.content
    assert set(rows(first.content)).isdisjoint(rows(second.content))
    assert len(set(rows(first.content)) | set(rows(second.content))) == 31

    for page in ("99", "abc"):
        assert admin_client.get(MANAGE_USERS, {"page": page}).status_code == 200
    assert b"Page 2 of 2" in admin_client.get(MANAGE_USERS, {"page": "99"}).content

    off = admin_client.get(MANAGE_USERS, {"twofa": "off"})
    assert len(rows(off.content)) == 21  # 20 users without 2FA + the admin, one page
    assert b"Page 1 of" not in off.content
    on = admin_client.get(MANAGE_USERS, {"twofa": "on"})
    assert set(rows(on.content)) == {f"user{i:03d}@example.com" for i in range(0, 30, 3)}


def test_s56_number_of_queries_does_not_grow_with_users(
    admin_client: Client, office: Office, frozen_clock: FrozenClock
) -> None:
    """S56: one page costs the same number of queries for 10 or 30 users (no N+1)."""
    bulk_users(office, 10, prefix="early", with_2fa_every=2)
    admin_client.get(MANAGE_USERS)  # warm-up (e.g. content types, permissions caches)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(MANAGE_USERS)
    assert len(rows(response.content)) == 11

    bulk_users(office, 20, prefix="late", with_2fa_every=2)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(MANAGE_USERS)
    assert len(rows(response.content)) == 25
    assert len(many.captured_queries) == len(few.captured_queries), [
        q["sql"] for q in many.captured_queries
    ]


def test_a_late_page_computes_the_2fa_status_of_its_own_rows_only(
    admin_client: Client, office: Office, frozen_clock: FrozenClock
) -> None:
    """The cost of a page must not grow with the office: the status subqueries (recovery
    codes left, last code) run for the 25 rows of the page, never over the rows skipped
    before it, so no query that computes them pages with OFFSET; the page's ids come first."""
    bulk_users(office, 60, with_2fa_every=3)
    admin_client.get(MANAGE_USERS)  # warm-up
    for query in ({"page": "3"}, {"page": "2", "twofa": "off"}, {"page": "1", "twofa": "on"}):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(MANAGE_USERS, query)
        assert response.status_code == 200 and rows(response.content), query
        status = [q["sql"] for q in captured if "twofactor_recoverycode" in q["sql"]]
        assert len(status) == 1, status
        assert "OFFSET" not in status[0].upper() and " IN (" in status[0], status[0]
    # 61 users by name ("Olga Admin" first): page 3 holds the last 11, each with its status.
    last = rows(admin_client.get(MANAGE_USERS, {"page": "3"}).content)
    assert list(last) == [f"user{i:03d}@example.com" for i in range(49, 60)]
    assert [cells[3] for cells in last.values()] == [
        "On" if i % 3 == 0 else "Off" for i in range(49, 60)
    ], last


def test_s57_member_agent_and_admin_without_office_get_403(
    client: Client, make_user: Callable[..., User], team: dict[str, User]
) -> None:
    """S57: only an office admin opens Manage users."""
    make_agent("agent@example.com", "Hal Helpdesk", "correct horse battery staple 42")
    make_user(
        "noffice@example.com", full_name="No Office", role=User.Role.OFFICE_ADMIN, office=None
    )
    for email in ("bob@example.com", "agent@example.com", "noffice@example.com"):
        visitor = Client()
        sign_in(visitor, email)
        for query in ({}, {"twofa": "on"}):
            response = visitor.get(MANAGE_USERS, query)
            assert response.status_code == 403, email
            assert b"alice@example.com" not in response.content


def test_s57_anonymous_goes_to_login(client: Client, team: dict[str, User]) -> None:
    response = client.get(MANAGE_USERS)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_s57_admin_of_another_office_sees_only_their_office(
    make_user: Callable[..., User], other_office: Office, team: dict[str, User], office: Office
) -> None:
    """S57: an admin of another office never sees this office's users, whatever the query."""
    make_user(
        "oscar@example.com",
        full_name="Oscar Admin",
        office=other_office,
        role=User.Role.OFFICE_ADMIN,
    )
    visitor = Client()
    sign_in(visitor, "oscar@example.com")
    for query in ({}, {"office": str(office.pk)}, {"office_id": str(office.pk), "twofa": "on"}):
        response = visitor.get(MANAGE_USERS, query)
        assert response.status_code == 200
        assert set(rows(response.content)) <= {"otto@example.com", "oscar@example.com"}
        assert b"alice@example.com" not in response.content
    assert set(rows(visitor.get(MANAGE_USERS).content)) == {
        "otto@example.com",
        "oscar@example.com",
    }
    assert b"1 of 2 users have 2FA" in visitor.get(MANAGE_USERS).content


def test_s56_c20_no_key_in_the_html(
    admin_client: Client, team: dict[str, User], office: Office
) -> None:
    """S56/C20: the list shows on/off and since, never a key in any spelling."""
    key = os.urandom(20)
    enable_two_factor(team["bob"], key=key)
    for twofa in ("all", "on"):
        response = admin_client.get(MANAGE_USERS, {"twofa": twofa})
        assert rows(response.content)["bob@example.com"][3] == "On"
        assert_no_key(response.content, key, "Manage users")
        assert_no_key(response.content, b"12345678901234567890", "Manage users")
        assert b"otpauth" not in response.content


def test_s56_status_shows_last_code_and_recovery_codes_left_never_a_code(
    make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    from tests.conftest import enable_two_factor
    from twostep.twofactor.recovery import replace_codes

    admin = make_user("ada@example.com", full_name="Ada", role=User.Role.OFFICE_ADMIN)
    zed = make_user("zed@example.com", full_name="Zed")
    enable_two_factor(zed)
    codes = replace_codes(zed)
    c = Client()
    c.force_login(admin)
    page = c.get("/administration/users/").content.decode()
    assert "10 recovery codes left" in page and "last code" in page
    assert not any(code in page for code in codes)
