"""End-to-end fixtures: a real gunicorn on a temporary SQLite database, a real Chromium.

Nothing here touches Django's ORM or pytest-django's test database: the portal is set
up with its own management commands (run as subprocesses with the server's environment)
and driven over HTTP only. The server runs on the real clock; ``twostep.clock`` is
never patched.

Playwright's sync API keeps an asyncio loop running in this thread while it is started,
which would make Django refuse database access in any later test of the same run. So
the browser lives for one test module only; the server lives for the whole session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRED_TOOLS = {
    "chromium": (str(CHROMIUM), "apt-get install chromium"),
    "oathtool": ("oathtool", "apt-get install oathtool"),
    "zbarimg": ("zbarimg", "apt-get install zbar-tools"),
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
# Generous: the machine running the tests may be busy (argon2 hashing, two workers).
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)
SERVER_START_SECONDS = 60
OFFICE = "Müller & Partner Steuerberatung"
# Environment variables that would point the server away from its temporary data.
_FOREIGN_ENV_PREFIXES = ("TWOSTEP_", "DATABASE_URL", "EMAIL_")


@dataclass(frozen=True)
class Account:
    email: str
    name: str
    password: str


@dataclass(frozen=True)
class Accounts:
    office_admin: Account
    alice: Account
    bob: Account
    carol: Account  # an office admin too, so that forced browsing has content to find
    agent: Account


ACCOUNTS = Accounts(
    office_admin=Account("ada.admin@mueller-partner.example", "Ada Admin", "Ada's e2e pass 7141!"),
    alice=Account("alice+2fa@mueller-partner.example", "Alice Example", "Alice e2e pass 2094?"),
    bob=Account("bob@mueller-partner.example", "Bob Builder", "Bob's e2e pass 5521#"),
    carol=Account("carol@mueller-partner.example", "Carol Controller", "Carol e2e pass 8837%"),
    agent=Account("hal@helpdesk.example", "Hal Helpdesk", "Hal's e2e pass 6609&"),
)


@dataclass
class Portal:
    """The running server, its data folder, and its management commands."""

    base_url: str
    data_dir: Path
    mail_dir: Path
    log_path: Path
    env: dict[str, str]
    accounts: Accounts
    # Keys that accounts enrolled during the run, with the time step of their last code.
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def manage(self, *args: str, stdin: str | None = None) -> str:
        """Run ``python -m twostep ARGS`` against the server's database; return stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "twostep", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.data_dir,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`python -m twostep {' '.join(args)}` failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def emails_to(self, address: str) -> list[EmailMessage]:
        """Every email the server wrote to the mail folder for ``address``, oldest first."""
        found: list[EmailMessage] = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime):
            separator = b"\n" + b"-" * 79 + b"\n"
            for chunk in path.read_bytes().split(separator):
                if not chunk.strip():
                    continue
                message = BytesParser(policy=policy.default).parsebytes(chunk.lstrip(b"\n"))
                assert isinstance(message, EmailMessage)
                if address.lower() in str(message.get("To", "")).lower():
                    found.append(message)
        return found

    def log_tail(self, lines: int = 200) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


_PORTAL_KEY = pytest.StashKey[Portal]()
_CALL_FAILED_KEY = pytest.StashKey[bool]()


def _missing_tools() -> list[str]:
    missing = []
    for name, (command, install) in REQUIRED_TOOLS.items():
        path = Path(command)
        present = os.access(path, os.X_OK) if path.is_absolute() else shutil.which(command)
        if not present:
            missing.append(f"{name} ({command}; install with `{install}` or `make system-deps`)")
    return missing


@pytest.fixture(scope="session", autouse=True)
def e2e_tools() -> None:
    """The end-to-end tests need a real browser, TOTP generator and QR decoder: fail, never skip."""
    missing = _missing_tools()
    if missing:
        pytest.fail("End-to-end tests cannot run, missing: " + "; ".join(missing), pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path, mail_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV_PREFIXES)}
    env.update(
        TWOSTEP_DATA_DIR=str(data_dir),
        TWOSTEP_EMAIL_FILE_PATH=str(mail_dir),
        DJANGO_SETTINGS_MODULE="twostep.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last_error = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {process.returncode} before answering.\n"
                f"--- server log ---\n{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1)
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    pytest.fail(
        f"gunicorn did not answer {url} within {SERVER_START_SECONDS} s ({last_error}).\n"
        f"--- server log ---\n{log_path.read_text(errors='replace')}",
        pytrace=False,
    )


def _control_socket_options(gunicorn: str, data_dir: Path) -> list[str]:
    """Newer gunicorns open a control socket in ~/.gunicorn, shared by every instance on the
    machine: give this server its own (other test servers may be running)."""
    help_text = subprocess.run(
        [gunicorn, "--help"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    if "--control-socket" in help_text:
        return ["--control-socket", str(data_dir / "gunicorn.ctl")]
    return []


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, e2e_tools: None
) -> Iterator[Portal]:
    """A migrated database with an office (two admins, two members), a helpdesk agent; gunicorn."""
    data_dir = tmp_path_factory.mktemp("twostep-e2e")
    mail_dir = data_dir / "mail"
    mail_dir.mkdir()
    port = _free_port()
    log_path = data_dir / "gunicorn.log"
    server = Portal(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        mail_dir=mail_dir,
        log_path=log_path,
        env=_server_env(data_dir, mail_dir),
        accounts=ACCOUNTS,
    )
    server.manage("migrate", "--noinput")
    server.manage("create_office", OFFICE)
    people = [
        (ACCOUNTS.office_admin, "office_admin"),
        (ACCOUNTS.alice, "member"),
        (ACCOUNTS.bob, "member"),
        (ACCOUNTS.carol, "office_admin"),
    ]
    agent = ACCOUNTS.agent
    commands: list[tuple[list[str], str]] = [
        (
            [
                *("create_user", account.email, "--name", account.name),
                *("--office", OFFICE, "--role", role, "--password-stdin"),
            ],
            account.password,
        )
        for account, role in people
    ]
    commands.append(
        (
            ["create_helpdesk_agent", agent.email, "--name", agent.name, "--password-stdin"],
            agent.password,
        )
    )
    # Each command starts Django and hashes a password: run them side by side.
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = [
            pool.submit(server.manage, *args, stdin=password + "\n") for args, password in commands
        ]
        for future in futures:
            future.result()

    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "twostep.wsgi:application", "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--error-logfile", "-"]
    command += _control_socket_options(gunicorn, data_dir)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server.env,
            cwd=data_dir,
        )
    try:
        _wait_until_answering(server.url("/login/"), process, log_path)
        request.config.stash[_PORTAL_KEY] = server
        yield server
    finally:
        _stop(process)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed e2e test, remember it (for screenshots) and attach the server log."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED_KEY] = True
    if report.failed and _PORTAL_KEY in item.config.stash and "portal" in item.fixturenames:
        server = item.config.stash[_PORTAL_KEY]
        report.sections.append(("gunicorn log (last 200 lines)", server.log_tail()))
    return report


@pytest.fixture(scope="module")
def browser(e2e_tools: None) -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


def _artifact_stem(node: pytest.Item) -> Path:
    module = Path(str(node.path)).stem
    return ARTIFACTS / module / node.name


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts (separate cookie jars: separate people or devices)."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = request.node.stash.get(_CALL_FAILED_KEY, False)
    for number, context in enumerate(contexts):
        for index, page in enumerate(context.pages):
            if failed and not page.is_closed():
                stem = _artifact_stem(request.node)
                stem.parent.mkdir(parents=True, exist_ok=True)
                path = stem.parent / f"{stem.name}-FAILED-context{number}-page{index}.png"
                page.screenshot(path=str(path), full_page=True)
        context.close()


class Snapshots:
    """Full-page screenshots of one test's pages at desktop and phone width.

    Also notes in ``<test>-phone-layout.txt`` each page that is wider than the phone
    (a horizontal scroll bar), for a person to judge; it does not fail the test.
    """

    def __init__(self, stem: Path) -> None:
        self.stem = stem
        self.count = 0
        stem.parent.mkdir(parents=True, exist_ok=True)
        for old in stem.parent.glob(f"{stem.name}-*"):
            old.unlink()
        self.layout_notes = self.path("phone-layout").with_suffix(".txt")

    def path(self, label: str) -> Path:
        return self.stem.parent / f"{self.stem.name}-{label}.png"

    def __call__(self, page: Page, label: str) -> None:
        """Save ``page`` at 1280 px and at 360 px wide, then restore the desktop size."""
        self.count += 1
        base = f"{self.count:02d}-{label}"
        page.screenshot(path=str(self.path(f"{base}-1280")), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(self.path(f"{base}-360")), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            with self.layout_notes.open("a") as notes:
                notes.write(f"{base} {page.url}: {width} px wide at {PHONE['width']} px\n")
        page.set_viewport_size(DESKTOP)


@pytest.fixture
def snap(request: pytest.FixtureRequest) -> Snapshots:
    return Snapshots(_artifact_stem(request.node))
