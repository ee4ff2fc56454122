"""The 2FA flows in a real browser against gunicorn, on the real clock.

Codes come from ``oathtool`` (never from the product's own TOTP code) and the QR code
is read by ``zbarimg`` from a screenshot of the page at the size it is shown. Each
test works on its own user, so the tests do not depend on their order.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, Account, Portal, Snapshots

pytestmark = pytest.mark.e2e

ISSUER = "Twostep"
STEP_SECONDS = 30
BASE32_KEY = re.compile(r"[A-Z2-7]{32}")
GROUPED_KEY = re.compile(r"(?:[A-Z2-7]{4} ){7}[A-Z2-7]{4}")
COUNT_LINE = re.compile(r"(\d+) of (\d+) users have 2FA")
MIN_QR_CSS_PIXELS = 180  # below this a phone camera struggles with a version 5-6 code
EMAIL_WAIT_SECONDS = 10

NewPage = Callable[[], Page]


# --- time and codes: the authenticator app is oathtool ----------------------------------


def step_at(unix: float) -> int:
    return int(unix // STEP_SECONDS)


def oathtool_code(secret: str, unix: float) -> str:
    """The code an authenticator app shows at ``unix`` (the key goes in on stdin)."""
    result = subprocess.run(
        ["oathtool", "--totp", "-b", f"--now=@{int(unix)}", "-"],
        input=secret,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 0, f"oathtool failed: {result.stderr}"
    code = result.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), code
    return code


def code_now(secret: str) -> tuple[str, int]:
    """The app's code right now, and its time step."""
    now = time.time()
    return oathtool_code(secret, now), step_at(now)


def wait_for_step(step: int) -> None:
    """Sleep until time step ``step`` has begun, so that the app shows a new code."""
    remaining = step * STEP_SECONDS - time.time()
    if remaining > 0:
        time.sleep(remaining + 0.3)


# --- the QR code and the key -----------------------------------------------------------


def decode_qr(qr: Locator, path: Path) -> str:
    """Screenshot the QR element as displayed and decode it with zbarimg."""
    qr.screenshot(path=str(path))
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"zbarimg could not read the QR code in {path}: {result.stderr}"
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"expected one QR code in {path}, zbarimg read {lines!r}"
    return lines[0]


def secret_from_key_uri(uri: str, email: str) -> str:
    """Check the otpauth URI (Google's Key Uri Format) and return its secret."""
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth", uri
    assert parts.netloc == "totp", uri
    label = parts.path.removeprefix("/")
    assert label in {
        f"{ISSUER}:{quote(email, safe='')}",
        f"{ISSUER}:{quote(email, safe='@')}",
    }, f"label {label!r} is not {ISSUER}:<percent-encoded {email}>"
    assert unquote(label) == f"{ISSUER}:{email}"
    query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    params = dict(query)
    assert len(params) == len(query), f"repeated parameters in {uri}"
    # SHA1, 6 digits and 30 s are the defaults and are left out to keep the QR code small.
    assert set(params) == {"secret", "issuer"}, uri
    assert f"issuer={ISSUER}" in parts.query.split("&"), uri
    secret = params["secret"]
    assert BASE32_KEY.fullmatch(secret), f"secret {secret!r}: not 32 upper-case base32 characters"
    assert "=" not in secret
    assert len(base64.b32decode(secret)) == 20
    return secret


# --- pages -----------------------------------------------------------------------------


def sign_in(page: Page, portal: Portal, account: Account) -> None:
    """The password step on /login/."""
    page.goto(portal.url("/login/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in").click()


def expect_home(page: Page, portal: Portal, account: Account) -> None:
    expect(page).to_have_url(portal.url("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {account.name}")


def expect_code_step(page: Page, portal: Portal, account: Account) -> None:
    expect(page).to_have_url(portal.url("/login/code/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your 6-digit code")
    expect(page.get_by_text(f"Signing in as {account.email}")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)


def open_account_menu(page: Page, account: Account) -> Locator:
    """Open the menu under the user's email at the top right; return the menu."""
    summary = page.get_by_test_id("user-menu")
    expect(summary).to_have_text(account.email)
    box = summary.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert box["x"] + box["width"] > viewport["width"] * 0.75, f"menu not at the right: {box}"
    assert box["y"] < 100, f"menu not at the top: {box}"
    if page.locator("nav.usermenu details").get_attribute("open") is None:
        summary.click()
    menu = page.get_by_role("navigation", name="Account")
    expect(menu.get_by_role("link", name="Manage 2FA")).to_be_visible()
    return menu


def close_account_menu(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    menu = page.get_by_role("navigation", name="Account")
    expect(menu.get_by_role("link", name="Manage 2FA")).to_be_hidden()


def open_manage_2fa(page: Page, account: Account) -> None:
    open_account_menu(page, account).get_by_role("link", name="Manage 2FA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage 2FA")


def sign_out(page: Page, portal: Portal, account: Account) -> None:
    open_account_menu(page, account).get_by_role("button", name="Log out").click()
    expect(page).to_have_url(portal.url("/login/"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def enter_code(page: Page, code: str) -> None:
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Verify").click()


def enrol_via_ui(page: Page, portal: Portal, account: Account, snap: Snapshots) -> tuple[str, int]:
    """From a signed-in page with 2FA off: Manage 2FA > Enable 2FA > scan > code > Close.

    Returns the key read from the QR code and the time step of the code that confirmed it.
    """
    open_manage_2fa(page, account)
    expect(page.get_by_test_id("twofa-status")).to_contain_text("disabled")
    snap(page, "manage-2fa-off")
    page.get_by_role("button", name="Enable 2FA").click()

    qr = page.get_by_test_id("qr-code")
    expect(qr).to_be_visible()
    snap(page, "enable-scan-qr")
    uri = decode_qr(qr, snap.path("qr-as-shown-1280"))
    secret = secret_from_key_uri(uri, account.email)
    desktop_box = qr.bounding_box()
    assert desktop_box is not None and desktop_box["width"] >= MIN_QR_CSS_PIXELS, desktop_box
    page.set_viewport_size(PHONE)
    assert decode_qr(qr, snap.path("qr-as-shown-360")) == uri
    phone_box = qr.bounding_box()
    assert phone_box is not None and phone_box["width"] >= MIN_QR_CSS_PIXELS, phone_box
    assert phone_box["x"] >= 0 and phone_box["x"] + phone_box["width"] <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    shown = page.get_by_test_id("twofa-key").inner_text().strip()
    assert GROUPED_KEY.fullmatch(shown), f"key not shown in groups of four: {shown!r}"
    assert "".join(shown.split()) == secret, "the typed key differs from the QR code's key"
    expect(page.get_by_text(f"Account: {account.email}")).to_be_visible()

    page.get_by_role("link", name="Next").click()
    expect(page.get_by_label("6-digit code")).to_be_visible()
    snap(page, "enable-enter-code")
    code, step = code_now(secret)
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Enable 2FA").click()

    expect(page.get_by_test_id("enabled-heading")).to_have_text("Two-factor authentication is on")
    snap(page, "enable-done")
    page.get_by_role("link", name="Close").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage 2FA")
    expect(page.get_by_test_id("twofa-status")).to_contain_text("enabled")
    snap(page, "manage-2fa-on")
    return secret, step


def sign_in_agent(page: Page, portal: Portal, snap: Snapshots) -> None:
    """Sign the helpdesk agent in, ending on the home page.

    The helpdesk opens only for accounts with 2FA: the first time, the agent is shown
    "Turn on 2FA first" and enrols through the UI; later, the code step takes a new code.
    """
    agent = portal.accounts.agent
    sign_in(page, portal, agent)
    known = portal.keys.get(agent.email)
    if known is None:
        expect_home(page, portal, agent)
        page.goto(portal.url("/helpdesk/"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Turn on 2FA first")
        snap(page, "helpdesk-needs-2fa")
        page.locator("main").get_by_role("link", name="Manage 2FA").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Manage 2FA")
        portal.keys[agent.email] = enrol_via_ui(page, portal, agent, snap)
        page.goto(portal.url("/"))
    else:
        secret, last_step = known
        expect_code_step(page, portal, agent)
        wait_for_step(last_step + 1)
        code, step = code_now(secret)
        enter_code(page, code)
        portal.keys[agent.email] = (secret, step)
    expect_home(page, portal, agent)


def open_manage_users(page: Page, account: Account) -> None:
    menu = open_account_menu(page, account)
    expect(menu.get_by_text("Administration", exact=True)).to_be_visible()
    menu.get_by_role("link", name="Manage users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage users")


def two_factor_cell(page: Page, email: str) -> Locator:
    headers = [h.strip() for h in page.locator("table.users thead th").all_inner_texts()]
    column = headers.index("2FA")
    row = page.locator(f'tr[data-email="{email}"]')
    expect(row).to_have_count(1)
    return row.locator("td").nth(column)


def users_with_2fa(page: Page) -> tuple[int, int]:
    line = page.get_by_test_id("twofa-count").inner_text()
    match = COUNT_LINE.search(line)
    assert match, f"count line {line!r}"
    return int(match[1]), int(match[2])


def wait_for_email(portal: Portal, address: str, subject_part: str) -> EmailMessage:
    deadline = time.monotonic() + EMAIL_WAIT_SECONDS
    while True:
        for message in portal.emails_to(address):
            if subject_part in str(message["Subject"]):
                return message
        if time.monotonic() > deadline:
            subjects = [str(m["Subject"]) for m in portal.emails_to(address)]
            pytest.fail(f"no email to {address} about {subject_part!r}; got {subjects}")
        time.sleep(0.2)


# --- tests -----------------------------------------------------------------------------


def test_enable_sign_in_with_code_replay_refused_and_disable(
    portal: Portal, new_page: NewPage, snap: Snapshots
) -> None:
    """Alice turns 2FA on with her phone, signs in with codes, and turns it off (C05, C18)."""
    alice = portal.accounts.alice
    page = new_page()
    page.goto(portal.url("/login/"))
    snap(page, "login")
    sign_in(page, portal, alice)
    expect_home(page, portal, alice)  # 2FA is off: no code asked
    expect(page.get_by_text("2FA off")).to_be_visible()
    snap(page, "home-2fa-off")
    open_account_menu(page, alice)
    snap(page, "user-menu-open")
    close_account_menu(page)

    secret, enrol_step = enrol_via_ui(page, portal, alice, snap)

    sign_out(page, portal, alice)
    snap(page, "signed-out")
    # A second browser passes the password step now; it will try the same code later.
    other = new_page()
    sign_in(other, portal, alice)
    expect_code_step(other, portal, alice)

    # The app must show a code the server has not seen yet: wait for the next 30-s step.
    wait_for_step(enrol_step + 1)
    sign_in(page, portal, alice)
    expect_code_step(page, portal, alice)
    code_input = page.get_by_label("6-digit code")
    expect(code_input).to_have_attribute("autocomplete", "one-time-code")
    expect(code_input).to_have_attribute("inputmode", "numeric")
    snap(page, "code-step")
    login_code, login_step = code_now(secret)
    assert login_step > enrol_step
    enter_code(page, login_code)
    expect_home(page, portal, alice)
    expect(page.get_by_text("2FA on")).to_be_visible()
    snap(page, "home-2fa-on")

    # The same code a second time, in the other browser's login: refused, wait for the next.
    enter_code(other, login_code)
    alert = other.get_by_role("alert")
    expect(alert).to_contain_text("already been used")
    expect(alert).to_contain_text("next code")
    expect_code_step(other, portal, alice)
    snap(other, "code-replayed")

    # The next step's code signs in.
    wait_for_step(login_step + 1)
    next_code, next_step = code_now(secret)
    assert next_step > login_step and next_code != login_code
    enter_code(other, next_code)
    expect_home(other, portal, alice)

    # Disable 2FA asks for the password and a code: a wrong password is refused and
    # changes nothing.
    open_manage_2fa(other, alice)
    other.get_by_role("link", name="Disable 2FA").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Disable 2FA")
    snap(other, "disable-2fa")
    other.get_by_label("Your password").fill(alice.password + "x")
    other.get_by_label("Code from your authenticator app").fill(next_code)
    other.get_by_role("button", name="Disable 2FA").click()
    expect(other.get_by_role("alert")).to_contain_text("password is not right")
    snap(other, "disable-2fa-wrong-password")
    open_manage_2fa(other, alice)
    expect(other.get_by_test_id("twofa-status")).to_contain_text("enabled")

    # After one failure the product makes the next attempt wait 1 s (a growing wait). The
    # right password with the code that signed in: that code is used up.
    other.get_by_role("link", name="Disable 2FA").click()
    time.sleep(1.5)
    other.get_by_label("Your password").fill(alice.password)
    other.get_by_label("Code from your authenticator app").fill(next_code)
    other.get_by_role("button", name="Disable 2FA").click()
    expect(other.get_by_role("alert")).to_contain_text("already been used")
    expect(other.get_by_label("Code from your authenticator app")).to_have_value("")

    # The next step's code, with the password again, turns 2FA off.
    wait_for_step(next_step + 1)
    time.sleep(1)  # and past the growing wait after the second failure
    other.get_by_label("Your password").fill(alice.password)
    other.get_by_label("Code from your authenticator app").fill(code_now(secret)[0])
    other.get_by_role("button", name="Disable 2FA").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Manage 2FA")
    expect(other.get_by_role("status")).to_contain_text("Two-factor authentication is now off")
    expect(other.get_by_test_id("twofa-status")).to_contain_text("disabled")
    snap(other, "manage-2fa-disabled")

    sign_out(other, portal, alice)
    sign_in(other, portal, alice)
    expect_home(other, portal, alice)  # the password alone again
    expect(other.get_by_text("2FA off")).to_be_visible()

    wait_for_email(portal, alice.email, "Two-factor authentication was turned on")
    wait_for_email(portal, alice.email, "Two-factor authentication was turned off")

    # Disabling 2FA signs out the user's other sessions (the first browser is one).
    page.goto(portal.url("/"))
    expect(page).to_have_url(re.compile(re.escape(portal.url("/login/"))))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)


def test_helpdesk_disables_2fa_and_manage_users_shows_it(
    portal: Portal, new_page: NewPage, snap: Snapshots
) -> None:
    """Office admin sees Bob's 2FA; the helpdesk resets it after a lost phone (C19, C20)."""
    accounts = portal.accounts
    bob, admin, agent = accounts.bob, accounts.office_admin, accounts.agent

    admin_page = new_page()
    sign_in(admin_page, portal, admin)
    expect_home(admin_page, portal, admin)
    open_account_menu(admin_page, admin)
    snap(admin_page, "admin-menu-open")
    close_account_menu(admin_page)
    open_manage_users(admin_page, admin)
    expect(two_factor_cell(admin_page, bob.email)).to_have_text("Off")
    with_before, total = users_with_2fa(admin_page)
    assert total == 4  # Ada, Alice, Bob and Carol; the helpdesk agent has no office

    bob_page = new_page()
    sign_in(bob_page, portal, bob)
    expect_home(bob_page, portal, bob)
    secret, _step = enrol_via_ui(bob_page, portal, bob, snap)

    admin_page.reload()
    expect(two_factor_cell(admin_page, bob.email)).to_have_text("On")
    assert users_with_2fa(admin_page) == (with_before + 1, total)
    page_text = admin_page.locator("main").inner_text()
    assert secret not in page_text and secret[:4] + " " not in page_text
    snap(admin_page, "manage-users-bob-on")

    agent_page = new_page()
    sign_in_agent(agent_page, portal, snap)
    open_account_menu(agent_page, agent).get_by_role("link", name="Helpdesk").click()
    expect(agent_page.get_by_role("heading", level=1)).to_have_text("Helpdesk")
    snap(agent_page, "helpdesk-find")
    agent_page.get_by_label("Email address").fill(bob.email)
    agent_page.get_by_role("button", name="Find").click()
    expect(agent_page.get_by_role("heading", level=1)).to_have_text(bob.name)
    expect(agent_page.get_by_test_id("helpdesk-twofa")).to_contain_text("On since")
    checks = agent_page.get_by_role("group", name="Identity checks").get_by_role("checkbox")
    expect(checks).not_to_have_count(0)
    for box in checks.all():
        box.check()
    agent_page.get_by_label("Ticket reference and reason").fill("TICKET-123 lost phone")
    snap(agent_page, "helpdesk-user-checked")
    agent_page.get_by_role("button", name="Disable 2FA").click()
    expect(agent_page.get_by_role("status")).to_contain_text(f"2FA is now off for {bob.email}")
    expect(agent_page.get_by_test_id("helpdesk-twofa")).to_have_text("Off")
    snap(agent_page, "helpdesk-user-reset")

    email = wait_for_email(portal, bob.email, "Support removed two-factor authentication")
    body = email.get_content()
    assert "Support removed two-factor authentication" in body
    assert "TICKET-123 lost phone" in body
    assert secret not in body

    new_phone_page = new_page()
    sign_in(new_phone_page, portal, bob)
    expect_home(new_phone_page, portal, bob)  # the password alone
    expect(new_phone_page.get_by_text("2FA off")).to_be_visible()

    admin_page.reload()
    expect(two_factor_cell(admin_page, bob.email)).to_have_text("Off")
    assert users_with_2fa(admin_page) == (with_before, total)
    snap(admin_page, "manage-users-bob-off")

    # The reset signs out Bob's other sessions.
    bob_page.goto(portal.url("/"))
    expect(bob_page).to_have_url(re.compile(re.escape(portal.url("/login/"))))


def test_pages_after_password_step_lead_to_code_step(
    portal: Portal, new_page: NewPage, snap: Snapshots
) -> None:
    """Forced browsing in a pending login never shows a page's content (C01)."""
    carol = portal.accounts.carol
    page = new_page()
    sign_in(page, portal, carol)
    expect_home(page, portal, carol)
    enrol_via_ui(page, portal, carol, snap)

    # Fully signed in, each page shows its content (so the check below means something).
    headings = {
        "/": f"Welcome, {carol.name}",
        "/account/2fa/": "Manage 2FA",
        "/account/2fa/disable/": "Disable 2FA",
        "/administration/users/": "Manage users",
    }
    for path, heading in headings.items():
        page.goto(portal.url(path))
        expect(page).to_have_url(portal.url(path))
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)

    sign_out(page, portal, carol)
    sign_in(page, portal, carol)
    expect_code_step(page, portal, carol)

    for path in [*headings, "/account/2fa/enable/key/", "/helpdesk/", "/django-admin/"]:
        response = page.goto(portal.url(path))
        assert response is not None
        assert response.request.redirected_from is not None, f"{path} was served, not redirected"
        expect_code_step(page, portal, carol)
        body = page.locator("body").inner_text()
        for heading in headings.values():
            assert heading not in body, f"{path}: {heading!r} leaked"
        assert portal.accounts.bob.email not in body, f"{path}: the user list leaked"
        assert "Administration" not in body
    snap(page, "code-step-after-forced-browsing")
