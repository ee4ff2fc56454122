"""Issue 5 in a real browser: recovery codes shown once and used to sign in, the clock hint
for a phone whose clock is off, and choosing a language that is remembered per user."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Account, Portal
from tests.e2e.test_two_factor_flow import (
    STEP_SECONDS,
    enter_code,
    expect_code_step,
    expect_home,
    oathtool_code,
    open_manage_2fa,
    sign_in,
    sign_out,
    step_at,
    wait_for_step,
)

pytestmark = pytest.mark.e2e
DAVE = Account("dave@beyond.example", "Dave Dutch", "Dave's e2e pass 3310&")
ERIN = Account("erin@beyond.example", "Erin Français", "Erin's e2e pass 7730&")


@pytest.fixture(scope="module")
def beyond(portal: Portal) -> None:
    portal.manage("create_office", "Beyond Office")
    for who in (DAVE, ERIN):
        portal.manage(
            "create_user",
            who.email,
            "--name",
            who.name,
            "--office",
            "Beyond Office",
            "--password-stdin",
            stdin=who.password + "\n",
        )


@pytest.fixture
def dave(beyond: None) -> Account:
    return DAVE


@pytest.fixture
def erin(beyond: None) -> Account:
    return ERIN


def enable_and_keep_codes(page: Page, account: Account) -> tuple[str, int, list[str]]:
    open_manage_2fa(page, account)
    page.get_by_role("button", name="Enable 2FA").click()
    secret = "".join(page.get_by_test_id("twofa-key").inner_text().split())
    page.get_by_role("link", name="Next").click()
    now = time.time()
    page.get_by_label("6-digit code").fill(oathtool_code(secret, now))
    page.get_by_role("button", name="Enable 2FA").click()
    codes = [
        c.strip() for c in page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    ]
    assert len(codes) == 10 and all(len(c) == 19 for c in codes), codes
    page.get_by_role("link", name="Close").click()
    expect(page.get_by_test_id("recovery-left")).to_contain_text("10 of 10")
    return secret, step_at(now), codes


def test_recovery_code_and_clock_hint_in_the_browser(
    portal: Portal, dave: Account, new_page: object
) -> None:
    page = new_page()  # type: ignore[operator]
    sign_in(page, portal, dave)
    expect_home(page, portal, dave)
    secret, step, codes = enable_and_keep_codes(page, dave)
    sign_out(page, portal, dave)

    sign_in(page, portal, dave)
    expect_code_step(page, portal, dave)
    # A phone whose clock runs two minutes fast: refused, with a hint to fix the clock.
    enter_code(page, oathtool_code(secret, time.time() + 4 * STEP_SECONDS))
    expect(page.get_by_role("alert")).to_contain_text("clock seems to be about 2 minutes ahead")
    expect(page.get_by_role("alert")).to_contain_text("automatic date and time")

    # Lost phone: a recovery code instead (after the one-second wait of a refused code).
    time.sleep(1.5)
    page.get_by_role("link", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[0].upper())
    page.get_by_role("button", name="Sign in").click()
    expect_home(page, portal, dave)
    mails = portal.emails_to(dave.email)
    assert any("recovery code was used" in str(m["Subject"]).lower() for m in mails)
    open_manage_2fa(page, dave)
    expect(page.get_by_test_id("recovery-left")).to_contain_text("9 of 10")
    sign_out(page, portal, dave)

    # The same recovery code does not work twice.
    sign_in(page, portal, dave)
    page.get_by_role("link", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That recovery code is not right, or it was already used"
    )
    wait_for_step(step + 1)


def test_language_choice_is_remembered_for_the_user(
    portal: Portal, erin: Account, new_page: object
) -> None:
    page = new_page()  # type: ignore[operator]
    page.goto(portal.url("/login/"))
    page.get_by_label("Language").select_option("nl")
    page.get_by_role("button", name="Change language").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    assert page.locator("html").get_attribute("lang") == "nl"

    # Signed in, Erin chooses French; a new browser (no cookie) shows French after sign-in.
    page.locator("#id_email").fill(erin.email)
    page.locator("#id_password").fill(erin.password)
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(erin.name)
    page.locator("#language-select").select_option("fr")
    page.locator("form.language button").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    other = new_page()  # type: ignore[operator]
    other.goto(portal.url("/login/"))
    expect(other.locator("html")).to_have_attribute("lang", "en")
    other.locator("#id_email").fill(erin.email)
    other.locator("#id_password").fill(erin.password)
    other.locator("main form button[type=submit]").first.click()
    expect(other.get_by_role("heading", level=1)).to_contain_text(erin.name)
    expect(other.locator("html")).to_have_attribute("lang", "fr")
    expect(other.get_by_test_id("user-menu")).to_have_text(erin.email)
