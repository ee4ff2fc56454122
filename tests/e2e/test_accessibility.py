"""Accessibility (issue 5, section 5) in a real browser against gunicorn, on the real clock.

Every page a visitor, a member (with and without 2FA, and during enrolment), a pending login,
an office admin and a helpdesk agent can reach is checked by axe-core (the npm package in
tests/e2e/package.json, installed by ``make node-deps``; the tests fail, never skip, when it is
missing) against WCAG 2.0/2.1 A and AA and WCAG 2.2 AA, at 1280 and at 360 px wide. At 360 px
no page may scroll sideways. The 2FA flow is also walked by keyboard alone, and the QR code
must have a text alternative: an accessible name and the key as text next to it.

Injecting axe-core: the portal's Content-Security-Policy (``script-src 'self'``) blocks the
inline script that ``page.add_script_tag(path=...)`` inserts (``test_csp_blocks_injected_scripts``
shows it). So the axe pages run in browser contexts made with ``bypass_csp=True`` and axe's source
is evaluated with ``page.evaluate``. That is for the tests only: the keyboard and 360-px checks
run in ordinary contexts under the real CSP.

Codes come from ``oathtool``. The test users live in offices of their own (one with the office
2FA policy on), so the other end-to-end tests see the portal as they expect it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import (
    ACTION_TIMEOUT_MS,
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Account,
    Portal,
    Snapshots,
)
from tests.e2e.test_two_factor_flow import (
    GROUPED_KEY,
    code_now,
    expect_code_step,
    expect_home,
    open_account_menu,
    sign_in,
    sign_in_agent,
    wait_for_step,
)

pytestmark = pytest.mark.e2e

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RUN = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return {
    passes: results.passes.length,
    incomplete: results.incomplete.map((v) => v.id),
    violations: results.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(" "), html: n.html.slice(0, 240), summary: n.failureSummary,
      })),
    })),
  };
}"""
# axe reports an aria-describedby to a missing id only as "needs review"; this makes it a failure.
DANGLING_REFERENCES = """() => Array.from(
  document.querySelectorAll("[aria-describedby], [aria-labelledby]")).flatMap((e) =>
    ["aria-describedby", "aria-labelledby"].flatMap((attr) =>
      (e.getAttribute(attr) || "").split(/\\s+/).filter((id) => id && !document.getElementById(id))
        .map((id) => `<${e.tagName.toLowerCase()} id="${e.id}"> ${attr}="${id}": no such element`)))
"""
A11Y_ARTIFACTS = ARTIFACTS / "test_accessibility"
MAX_TABS = 40

# Problems that only a template change can fix: the templates are being converted for
# translation by someone else, so they are not edited here. Each entry is (page label
# pattern, axe rule id or "scroll-360") -> the change needed; the page still fails until the
# template is changed (the message says what to change), so it is not forgotten.
# Django 5.2 sets aria-describedby="<id>_error" (and "<id>_helptext") on the fields; the
# templates must render the error text (help text) in one element with exactly that id.
_ERROR_ID = (
    'replace `{{% for e in form.{f}.errors %}}<p class="field-error"{alert}>{{{{ e }}}}</p>'
    '{{% endfor %}}` by `{{% if form.{f}.errors %}}<p class="field-error" '
    'id="{{{{ form.{f}.auto_id }}}}_error" role="alert">{{{{ form.{f}.errors|join:" " }}}}</p>'
    "{{% endif %}}`"
)
TEMPLATE_CHANGES: dict[tuple[str, str], str] = {
    ("^visitor: sign in", "error-not-described"): "src/twostep/templates/accounts/login.html, "
    'the email and password error lines (<p class="field-error"> under each input): '
    + _ERROR_ID.format(f="email", alert="")
    + ", and the same for form.password",
    ("^visitor: forgot password", "error-not-described"): "src/twostep/templates/accounts/"
    "password_reset.html, the error line under {{ form.email }}: "
    + _ERROR_ID.format(f="email", alert=' role="alert"'),
    ("^member: change password", "error-not-described"): "src/twostep/templates/includes/"
    "form_fields.html (change password, new password after a reset link): the help-text "
    '`<div class="muted small">` gets id="{{ field.auto_id }}_helptext", and the error line '
    'becomes `{% if field.errors %}<p class="field-error" id="{{ field.auto_id }}_error" '
    'role="alert">{{ field.errors|join:" " }}</p>{% endif %}`',
    ("^enrolment: code page", "error-not-described"): "src/twostep/templates/twofactor/"
    "confirm.html, the error line under {{ form.code }}: "
    + _ERROR_ID.format(f="code", alert=' role="alert"'),
    ("^member 2FA: disable 2FA", "error-not-described"): "src/twostep/templates/twofactor/"
    "disable.html, the error line under {{ form.password }}: "
    + _ERROR_ID.format(f="password", alert=' role="alert"'),
    ("^pending login: code page", "error-not-described"): "src/twostep/templates/accounts/"
    "code.html, the error line under {{ form.code }}: "
    + _ERROR_ID.format(f="code", alert=' role="alert"'),
    ("^pending login: recovery code page", "error-not-described"): "src/twostep/templates/"
    "accounts/recovery.html, the error line under {{ form.code }}: "
    + _ERROR_ID.format(f="code", alert=' role="alert"'),
    ("^helpdesk: find", "error-not-described"): "src/twostep/templates/helpdesk/find.html, "
    "the error line under {{ form.email }}: " + _ERROR_ID.format(f="email", alert=""),
    ("^helpdesk: user page", "error-not-described"): "src/twostep/templates/helpdesk/user.html: "
    "(1) the error line under {{ form.reason }}: "
    + _ERROR_ID.format(f="reason", alert="")
    + "; (2) in the checklist loop, after `<label>{{ field }} {{ field.label }}</label>`, add "
    '`{% if field.errors %}<p class="field-error" id="{{ field.auto_id }}_error">'
    '{{ field.errors|join:" " }}</p>{% endif %}` inside the <div class="check">',
}

NewPage = Callable[[], Page]


# --- users of these tests ------------------------------------------------------------------

PLAIN_OFFICE = "Lindqvist & Sørensen Revision"
POLICY_OFFICE = "Åberg Policy Office"


@dataclass(frozen=True)
class People:
    mia: Account  # enrols during the page audit; then has 2FA
    kai: Account  # enrols by keyboard alone
    quinn: Account  # enrols to check the QR code's text alternative at 360 px
    ines: Account  # office admin of the policy office
    gus: Account  # member of the policy office, without 2FA (inside the grace period)
    gil: Account  # a helpdesk agent without 2FA: the helpdesk tells him to turn it on


PEOPLE = People(
    mia=Account("mia.member@lindqvist.example", "Mia Member", "Mia a11y pass 4410!"),
    kai=Account("kai.keys@lindqvist.example", "Kai Keyboard", "Kai a11y pass 7302?"),
    quinn=Account("quinn.qr@lindqvist.example", "Quinn Qr", "Quinn a11y pass 1188#"),
    ines=Account("ines.admin@aberg.example", "Ines Admin", "Ines a11y pass 5064%"),
    gus=Account("gus.grace@aberg.example", "Gus Grace", "Gus a11y pass 9921&"),
    gil=Account("gil.desk@helpdesk.example", "Gil Desk", "Gil a11y pass 3175$"),
)


@pytest.fixture(scope="module")
def people(portal: Portal) -> People:
    portal.manage("create_office", PLAIN_OFFICE)
    portal.manage("create_office", POLICY_OFFICE)
    rows = [
        (PEOPLE.mia, PLAIN_OFFICE, "member"),
        (PEOPLE.kai, PLAIN_OFFICE, "member"),
        (PEOPLE.quinn, PLAIN_OFFICE, "member"),
        (PEOPLE.ines, POLICY_OFFICE, "office_admin"),
        (PEOPLE.gus, POLICY_OFFICE, "member"),
    ]
    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        futures = [
            pool.submit(
                portal.manage,
                *("create_user", account.email, "--name", account.name, "--office", office),
                *("--role", role, "--password-stdin"),
                stdin=account.password + "\n",
            )
            for account, office, role in rows
        ]
        futures.append(
            pool.submit(
                portal.manage,
                *("create_helpdesk_agent", PEOPLE.gil.email, "--name", PEOPLE.gil.name),
                "--password-stdin",
                stdin=PEOPLE.gil.password + "\n",
            )
        )
        for future in futures:
            future.result()
    return PEOPLE


# --- axe-core ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE_JS}): run `make node-deps` (npm ci --prefix tests/e2e)",
            pytrace=False,
        )
    return AXE_JS.read_text()


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[NewPage]:
    """Pages in fresh contexts that ignore the CSP, so that axe-core can be injected."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(
            viewport=DESKTOP, locale="en-GB", timezone_id="UTC", bypass_csp=True
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@dataclass
class PageReport:
    label: str
    url: str
    problems: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)
    passes: int = 0
    incomplete: set[str] = field(default_factory=set)  # "needs review": not failures


def _describe(violation: dict[str, Any], width: int) -> str:
    lines = [
        f"  axe {violation['id']} ({violation['impact']}) at {width} px: {violation['help']}",
        f"    {violation['helpUrl']}",
    ]
    for node in violation["nodes"]:
        lines.append(f"    - {node['target']}")
        lines.append(f"      {node['html']}")
        summary = " / ".join(line.strip() for line in node["summary"].splitlines() if line.strip())
        lines.append(f"      {summary}")
    return "\n".join(lines)


class Audit:
    """Runs axe-core on each page at 1280 and 360 px and checks the phone width; reports all
    problems at the end, so that one failing page does not hide the others."""

    def __init__(self, axe_source: str, name: str) -> None:
        self.axe_source = axe_source
        self.reports: list[PageReport] = []
        self.folder = A11Y_ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    def _axe(self, page: Page, report: PageReport) -> list[dict[str, Any]]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(self.axe_source)
        results: dict[str, Any] = page.evaluate(AXE_RUN, WCAG_TAGS)
        assert results["passes"] > 0, f"axe-core checked nothing on {page.url}"
        report.passes = max(report.passes, results["passes"])
        report.incomplete.update(results["incomplete"])
        violations: list[dict[str, Any]] = results["violations"]
        return violations

    def __call__(self, page: Page, label: str) -> PageReport:
        page.wait_for_load_state("load")
        report = PageReport(label, page.url)
        for violation in self._axe(page, report):
            report.rules.add(violation["id"])
            report.problems.append(_describe(violation, DESKTOP["width"]))
        dangling: list[str] = page.evaluate(DANGLING_REFERENCES)
        if dangling:
            report.rules.add("error-not-described")
            report.problems.append(
                "  error-not-described: a field's aria-describedby (set by Django 5.2 for its\n"
                "  errors and help text) names an element the template does not render, so the\n"
                "  error or help is not announced with the field (WCAG 1.3.1, 3.3.1):\n"
                + "\n".join(f"    - {line}" for line in dangling)
            )
        page.set_viewport_size(PHONE)
        try:
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                report.rules.add("scroll-360")
                report.problems.append(
                    f"  scroll-360: the page is {width} px wide at {PHONE['width']} px "
                    f"(scrolls sideways); widest: {_widest(page)}"
                )
            tables = page.evaluate(
                "[...document.querySelectorAll('.table-wrap')]"
                ".filter(e => e.scrollWidth > e.clientWidth + 1).length"
            )
            if tables:
                report.rules.add("scroll-360")
                report.problems.append(
                    f"  scroll-360: {tables} table(s) scroll sideways inside the page at "
                    f"{PHONE['width']} px"
                )
            for violation in self._axe(page, report):
                if violation["id"] not in report.rules:
                    report.rules.add(violation["id"])
                    report.problems.append(_describe(violation, PHONE["width"]))
        finally:
            page.set_viewport_size(DESKTOP)
        if report.problems:
            stem = f"{len(self.reports) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower())}"
            page.screenshot(path=str(self.folder / f"{stem}.png"), full_page=True)
        self.reports.append(report)
        return report

    def summary(self) -> str:
        lines = []
        for report in self.reports:
            review = f"; needs review: {', '.join(sorted(report.incomplete))}"
            lines.append(
                f"{'FAIL' if report.problems else 'ok  '} {report.label}  {report.url}"
                f"  ({report.passes} rules passed{review if report.incomplete else ''})"
            )
        return "\n".join(lines)

    def assert_clean(self) -> None:
        failing = [r for r in self.reports if r.problems]
        print(self.summary())  # shown by pytest with the failure
        if not failing:
            return
        parts = [
            f"{len(failing)} of {len(self.reports)} pages have accessibility problems "
            f"(screenshots in {self.folder}):"
        ]
        for report in failing:
            parts.append(f"\n[{report.label}] {report.url}")
            parts.extend(report.problems)
            for (pattern, rule), change in TEMPLATE_CHANGES.items():
                if rule in report.rules and re.search(pattern, report.label):
                    parts.append(f"  TEMPLATE CHANGE NEEDED ({rule}): {change}")
        pytest.fail("\n".join(parts), pytrace=False)


def _widest(page: Page) -> str:
    """The elements that reach furthest to the right, for the 360-px report."""
    found: list[str] = page.evaluate(
        """() => {
          const limit = document.documentElement.clientWidth;
          return Array.from(document.querySelectorAll("body *"))
            .filter((e) => e.getBoundingClientRect().right > limit + 0.5)
            .slice(-3)
            .map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
              + " right=" + Math.round(e.getBoundingClientRect().right));
        }"""
    )
    return json.dumps(found)


# --- small steps ---------------------------------------------------------------------------


def open_details(page: Page, summary_text: str) -> None:
    details = page.locator("details", has=page.locator("summary", has_text=summary_text))
    if details.first.get_attribute("open") is None:
        details.first.locator("summary").click()


def start_enrolment(page: Page, account: Account) -> None:
    open_account_menu(page, account).get_by_role("link", name="Manage 2FA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage 2FA")
    page.get_by_role("button", name="Enable 2FA").click()
    expect(page.get_by_test_id("qr-code")).to_be_visible()


def key_shown(page: Page) -> str:
    shown = page.get_by_test_id("twofa-key").inner_text().strip()
    assert GROUPED_KEY.fullmatch(shown), f"key not shown in groups of four: {shown!r}"
    return "".join(shown.split())


def check_qr_text_alternative(page: Page) -> None:
    """The QR code has an accessible name, and the key is shown as text next to it."""
    qr = page.get_by_test_id("qr-code")
    expect(qr).to_have_attribute("role", "img")
    name = qr.get_attribute("aria-label") or ""
    assert "2FA key" in name, f"the QR code's accessible name does not point to the key: {name!r}"
    expect(page.get_by_role("img", name=name)).to_have_count(1)
    key = page.get_by_test_id("twofa-key")
    expect(key).to_be_visible()
    assert key_shown(page)
    # "Next to it": in the same card as the QR code, under a heading that says what it is.
    card = page.locator("section.setup")
    expect(card.get_by_test_id("qr-code")).to_have_count(1)
    expect(card.get_by_test_id("twofa-key")).to_have_count(1)
    expect(card.get_by_role("heading", name=re.compile("Type the 2FA key"))).to_be_visible()


# --- tests ---------------------------------------------------------------------------------


def test_csp_blocks_injected_scripts(portal: Portal, new_page: NewPage, axe_source: str) -> None:
    """Under the real CSP an injected inline script does not run: hence ``bypass_csp`` above."""
    page = new_page()
    page.goto(portal.url("/login/"))
    try:
        page.add_script_tag(path=str(AXE_JS))
    except PlaywrightError as exc:  # Playwright may report the CSP refusal as an error
        print(f"add_script_tag refused: {exc}".splitlines()[0])
    assert page.evaluate("typeof window.axe") == "undefined", "the CSP let an inline script run"


def test_every_page_passes_axe_and_fits_a_phone(
    portal: Portal, people: People, axe_page: NewPage, axe_source: str, snap: Snapshots
) -> None:
    """axe-core at WCAG 2.2 AA on every page, at 1280 and 360 px; no sideways scroll at 360."""
    audit = Audit(axe_source, "every-page")
    mia, ines, gus = people.mia, people.ines, people.gus

    # A visitor.
    visitor = axe_page()
    visitor.goto(portal.url("/login/"))
    audit(visitor, "visitor: sign in")
    visitor.get_by_label("Email", exact=True).fill("nobody@lindqvist.example")
    visitor.get_by_label("Password", exact=True).fill("not the password")
    visitor.get_by_role("button", name="Sign in").click()
    expect(visitor.get_by_role("alert")).to_be_visible()
    audit(visitor, "visitor: sign in, wrong password")
    visitor.get_by_label("Email", exact=True).fill("")
    visitor.get_by_label("Password", exact=True).fill("")
    visitor.get_by_role("button", name="Sign in").click()
    expect(visitor.locator(".field-error").first).to_be_visible()
    audit(visitor, "visitor: sign in, empty form")
    visitor.goto(portal.url("/password-reset/"))
    audit(visitor, "visitor: forgot password")
    visitor.get_by_role("button", name="Send the link").click()
    expect(visitor.locator(".field-error").first).to_be_visible()
    audit(visitor, "visitor: forgot password, no email")
    visitor.get_by_label("Email", exact=True).fill(people.kai.email)
    visitor.get_by_role("button", name="Send the link").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Check your email")
    audit(visitor, "visitor: reset link sent")
    visitor.goto(portal.url("/password-reset/MQ/not-a-token/"))
    expect(visitor.get_by_role("heading", level=1)).to_have_text("This link does not work any more")
    audit(visitor, "visitor: reset link expired")
    visitor.goto(portal.url("/no-such-page/"))
    audit(visitor, "visitor: page not found")

    # A member without 2FA.
    page = axe_page()
    sign_in(page, portal, mia)
    expect_home(page, portal, mia)
    audit(page, "member: home, 2FA off")
    open_account_menu(page, mia)
    audit(page, "member: user menu open")
    page.goto(portal.url("/account/2fa/"))
    audit(page, "member: Manage 2FA, 2FA off")
    page.goto(portal.url("/account/password/"))
    audit(page, "member: change password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field-error").first).to_be_visible()
    audit(page, "member: change password, empty form")
    page.goto(portal.url("/account/activity/"))
    audit(page, "member: security activity")
    page.goto(portal.url("/administration/users/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot open this page")
    audit(page, "member: not allowed (403)")

    # Enrolment: key page, code page (also with a wrong code), done page with recovery codes.
    page.goto(portal.url("/"))
    start_enrolment(page, mia)
    audit(page, "enrolment: key page (QR code)")
    secret = key_shown(page)
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_label("6-digit code")).to_be_visible()
    audit(page, "enrolment: code page")
    page.get_by_label("6-digit code").fill("12345")
    page.get_by_role("button", name="Enable 2FA").click()
    expect(page.get_by_role("alert")).to_be_visible()
    refused_at = time.monotonic()
    audit(page, "enrolment: code page, wrong code")
    time.sleep(max(0.0, refused_at + 1.5 - time.monotonic()))  # the growing wait after a miss
    page.get_by_label("6-digit code").fill(code_now(secret)[0])
    page.get_by_role("button", name="Enable 2FA").click()
    expect(page.get_by_test_id("enabled-heading")).to_have_text("Two-factor authentication is on")
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    audit(page, "enrolment: done, recovery codes")
    recovery = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()

    # A member with 2FA.
    page.get_by_role("link", name="Close").click()
    expect(page.get_by_test_id("twofa-status")).to_contain_text("enabled")
    audit(page, "member 2FA: Manage 2FA, 2FA on")
    open_details(page, "Make new recovery codes")
    open_details(page, "Moving to a new phone?")
    audit(page, "member 2FA: Manage 2FA, both sections open")
    page.locator("#codes-password").fill(mia.password)
    page.locator("#codes-password-code").fill(recovery[0].strip())  # the code was just used
    page.get_by_role("button", name="Make new recovery codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New recovery codes")
    audit(page, "member 2FA: new recovery codes")
    page.goto(portal.url("/"))
    expect(page.get_by_text("2FA on")).to_be_visible()
    audit(page, "member 2FA: home, 2FA on")
    page.goto(portal.url("/logout/"))  # typed: offers the button, signs nobody out
    expect(page.get_by_role("heading", level=1)).to_have_text("Log out")
    audit(page, "member 2FA: /logout/ typed in the address bar")
    page.goto(portal.url("/account/2fa/recovery-codes/"))  # a button-only address
    expect(page.get_by_role("heading", level=1)).to_have_text("Use the button on the page")
    audit(page, "member 2FA: a button-only address opened")
    page.goto(portal.url("/account/2fa/disable/"))
    audit(page, "member 2FA: disable 2FA")
    page.get_by_label("Your password").fill(mia.password + "x")
    page.get_by_label("Code from your authenticator app").fill("123456")
    page.get_by_role("button", name="Disable 2FA").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "member 2FA: disable 2FA, wrong password")

    # A pending login: the code page and the recovery-code page.
    pending = axe_page()
    sign_in(pending, portal, mia)
    expect_code_step(pending, portal, mia)
    audit(pending, "pending login: code page")
    pending.get_by_label("6-digit code").fill("12345")
    pending.get_by_role("button", name="Verify").click()
    expect(pending.get_by_role("alert")).to_be_visible()
    audit(pending, "pending login: code page, wrong code")
    pending.get_by_role("link", name="Use a recovery code instead").click()
    expect(pending.get_by_role("heading", level=1)).to_have_text("Use a recovery code")
    audit(pending, "pending login: recovery code page")
    pending.get_by_label("Recovery code").fill("abcd")
    pending.get_by_role("button", name="Sign in").click()
    expect(pending.get_by_role("alert")).to_be_visible()
    audit(pending, "pending login: recovery code page, wrong code")

    # An office admin: Manage users with the policy card (policy on, so grace shows).
    admin = axe_page()
    sign_in(admin, portal, ines)
    expect_home(admin, portal, ines)
    open_account_menu(admin, ines)
    audit(admin, "office admin: user menu open (Administration)")
    admin.goto(portal.url("/administration/users/"))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Manage users")
    open_details(admin, "Office 2FA policy")
    audit(admin, "office admin: Manage users, policy card open")
    admin.get_by_label("Require 2FA for everyone in the office").check()
    admin.get_by_label("Grace period in days").fill("14")
    admin.get_by_role("button", name="Save policy").click()
    expect(admin.get_by_role("status")).to_contain_text("2FA is now required")
    expect(admin.locator(f'tr[data-email="{gus.email}"] .grace')).to_be_visible()
    audit(admin, "office admin: Manage users, policy on, grace")
    admin.get_by_role("button", name=f"Send reminder to {gus.email}").click()
    expect(admin.get_by_role("status")).to_contain_text("Reminder sent")
    audit(admin, "office admin: reminder sent")

    # A member of that office is led to Enable 2FA after signing in.
    member = axe_page()
    sign_in(member, portal, gus)
    expect(member.get_by_role("heading", level=1)).to_have_text("Manage 2FA")
    audit(member, "policy member: led to Enable 2FA")

    # A helpdesk agent without 2FA is told to turn it on; Confirm your password (sudo mode).
    gil = axe_page()
    sign_in(gil, portal, people.gil)
    expect_home(gil, portal, people.gil)
    gil.goto(portal.url("/helpdesk/"))
    expect(gil.get_by_role("heading", level=1)).to_have_text("Turn on 2FA first")
    audit(gil, "helpdesk agent without 2FA: turn on 2FA first")
    gil.goto(portal.url("/account/confirm-password/?next=/helpdesk/"))
    expect(gil.get_by_role("heading", level=1)).to_have_text("Confirm your password")
    audit(gil, "confirm your password")
    gil.get_by_label("Your password").fill("not the password")
    gil.get_by_role("button", name="Continue").click()
    expect(gil.get_by_role("alert").first).to_contain_text("That password is not right")
    audit(gil, "confirm your password, wrong password")

    # A helpdesk agent: find (also not found) and the user page with the reset form.
    desk = axe_page()
    sign_in_agent(desk, portal, snap)
    desk.goto(portal.url("/helpdesk/"))
    audit(desk, "helpdesk: find")
    # The browser does not send the form empty (required): switch that off to see the server's.
    desk.locator("main form").evaluate("(form) => { form.noValidate = true; }")
    desk.get_by_role("button", name="Find").click()
    expect(desk.locator(".field-error").first).to_be_visible()
    audit(desk, "helpdesk: find, no email")
    desk.get_by_label("Email address").fill("nobody@nowhere.example")
    desk.get_by_role("button", name="Find").click()
    expect(desk.get_by_role("alert")).to_contain_text("No user has that email address")
    audit(desk, "helpdesk: find, not found")
    desk.get_by_label("Email address").fill(mia.email)
    desk.get_by_role("button", name="Find").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(mia.name)
    expect(desk.get_by_role("group", name="Identity checks")).to_be_visible()
    audit(desk, "helpdesk: user page, reset form")
    desk.get_by_role("button", name="Disable 2FA").click()
    expect(desk.get_by_role("alert").first).to_be_visible()
    audit(desk, "helpdesk: user page, form errors")
    desk.goto(portal.url("/helpdesk/"))
    desk.get_by_label("Email address").fill(people.gil.email)  # another agent: not here
    desk.get_by_role("button", name="Find").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Not reset here")
    audit(desk, "helpdesk: another agent's account")

    audit.assert_clean()


def test_qr_code_has_a_text_alternative_and_fits_a_phone(
    portal: Portal, people: People, new_page: NewPage
) -> None:
    """The key is shown as text next to the QR code, which has an accessible name; at 360 px
    the QR code is visible and the page does not scroll sideways (under the real CSP)."""
    quinn = people.quinn
    page = new_page()
    sign_in(page, portal, quinn)
    expect_home(page, portal, quinn)
    start_enrolment(page, quinn)
    check_qr_text_alternative(page)
    page.set_viewport_size(PHONE)
    qr = page.get_by_test_id("qr-code")
    expect(qr).to_be_visible()
    expect(qr).to_be_in_viewport()
    box = qr.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the key page is {width} px wide at 360 px: {_widest(page)}"
    expect(page.get_by_test_id("twofa-key")).to_be_visible()


# --- keyboard alone ------------------------------------------------------------------------


def _focused(page: Page) -> dict[str, str]:
    info: dict[str, str] = page.evaluate(
        """() => {
          const e = document.activeElement;
          const style = getComputedStyle(e);
          return {
            tag: e.tagName.toLowerCase(),
            text: (e.innerText || e.value || e.getAttribute("aria-label") || "").trim(),
            label: e.labels && e.labels.length ? e.labels[0].innerText.trim() : "",
            testid: e.getAttribute("data-testid") || "",
            outline: style.outlineStyle + " " + style.outlineWidth,
            outlineColor: style.outlineColor,
            visible: String(e.matches(":focus-visible")),
          };
        }"""
    )
    return info


PAGE_BACKGROUNDS = ("rgb(255, 255, 255)", "rgb(245, 247, 250)")  # cards, page (site.css --bg)
MIN_NON_TEXT_CONTRAST = 3.0


def _luminance(css_rgb: str) -> float:
    channels = [int(x) / 255 for x in re.findall(r"\d+", css_rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def tab_to(page: Page, matches: Callable[[dict[str, str]], bool], what: str) -> dict[str, str]:
    """Press Tab until the focused element matches; the focus must be visible on the way."""
    seen: list[str] = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        info = _focused(page)
        seen.append(f"{info['tag']}:{info['text'] or info['label']}"[:40])
        if info["tag"] != "body":
            style, width = info["outline"].split()
            assert style != "none" and width != "0px", (
                f"no visible focus indicator on {info} (site.css :focus-visible)"
            )
            if style != "auto":  # the browser's own ring is left to the browser
                for background in PAGE_BACKGROUNDS:
                    ratio = contrast(info["outlineColor"], background)
                    assert ratio >= MIN_NON_TEXT_CONTRAST, (
                        f"focus ring {info['outlineColor']} on {info} has {ratio:.2f}:1 against "
                        f"{background} (WCAG 1.4.11 needs 3:1)"
                    )
        if matches(info):
            return info
    pytest.fail(f"Tab never reached {what}; focus went through {seen}")


def test_keyboard_alone_sign_in_manage_2fa_and_enable(
    portal: Portal, people: People, new_page: NewPage
) -> None:
    """From the login page, Tab and Enter through sign-in, open the user menu, reach Manage 2FA
    and enable 2FA (QR page, code page, done page), without the mouse."""
    kai = people.kai
    page = new_page()
    page.goto(portal.url("/login/"))
    expect(page.get_by_label("Email", exact=True)).to_be_focused()  # autofocus
    page.keyboard.type(kai.email)
    tab_to(page, lambda f: f["label"] == "Password", "the Password field")
    page.keyboard.type(kai.password)
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Sign in", "Sign in")
    page.keyboard.press("Enter")
    expect_home(page, portal, kai)

    # The first Tab on a new page shows the skip link.
    skip = tab_to(page, lambda f: f["tag"] != "body", "the first focusable element")
    assert skip["text"] == "Skip to content", skip
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    user_menu = page.get_by_test_id("user-menu")
    expect(user_menu).to_have_accessible_name(kai.email)  # the CSS arrow is not read out
    tab_to(page, lambda f: f["testid"] == "user-menu", "the user menu under the email")
    page.keyboard.press("Enter")
    menu = page.get_by_role("navigation", name="Account")
    expect(menu.get_by_role("link", name="Manage 2FA")).to_be_visible()
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Manage 2FA", "Manage 2FA")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage 2FA")

    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Enable 2FA", "Enable 2FA")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("qr-code")).to_be_visible()
    check_qr_text_alternative(page)
    secret = key_shown(page)

    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Next", "Next")
    page.keyboard.press("Enter")
    expect(page.get_by_label("6-digit code")).to_be_visible()
    tab_to(page, lambda f: f["label"] == "6-digit code", "the code field")
    code, step = code_now(secret)
    page.keyboard.type(code)
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Enable 2FA", "Enable 2FA")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("enabled-heading")).to_have_text("Two-factor authentication is on")

    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Close", "Close")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("twofa-status")).to_contain_text("enabled")

    # Sign out and back in with a code, by keyboard too.
    tab_to(page, lambda f: f["testid"] == "user-menu", "the user menu")
    page.keyboard.press("Enter")
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Log out", "Log out")
    page.keyboard.press("Enter")
    expect(page).to_have_url(portal.url("/login/"))
    wait_for_step(step + 1)
    page.get_by_label("Email", exact=True).focus()
    page.keyboard.type(kai.email)
    tab_to(page, lambda f: f["label"] == "Password", "the Password field")
    page.keyboard.type(kai.password)
    page.keyboard.press("Enter")
    expect_code_step(page, portal, kai)
    expect(page.get_by_label("6-digit code")).to_be_focused()
    page.keyboard.type(code_now(secret)[0])
    page.keyboard.press("Enter")
    expect_home(page, portal, kai)
