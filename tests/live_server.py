"""A real Twostep server for the tests that need one: gunicorn in a subprocess, its own data
folder and database (SQLite by default, PostgreSQL when a database URL is given), and a small
HTTP client that keeps cookies and the CSRF token, with no redirect following."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; run `make test` (it installs it)")
    return path


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def manage(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(BIN / "python"), "-m", "twostep", *args],
            input=stdin.encode() if stdin is not None else None,
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage {args} failed: {result.stderr.decode()}")
        return result.stdout.decode()

    def emails(self) -> list[str]:
        folder = self.data_dir / "mail"
        return [p.read_text() for p in sorted(folder.glob("*"))] if folder.exists() else []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(
    data_dir: Path,
    database_url: str | None = None,
    workers: int = 2,
    threads: int = 1,
    extra_env: dict[str, str] | None = None,
) -> LiveServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TWOSTEP_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra_env or {})
    env.update(
        TWOSTEP_DATA_DIR=str(data_dir),
        TWOSTEP_EMAIL_FILE_PATH=str(data_dir / "mail"),
        DJANGO_SETTINGS_MODULE="twostep.settings",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    port = free_port()
    log_path = data_dir / "gunicorn.log"
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, env, None, log_path)  # type: ignore[arg-type]
    server.manage("migrate", "--noinput")
    with log_path.open("wb") as log:
        server.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "twostep.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.url + "/login/", timeout=2)  # noqa: S310
            return server
        except (urllib.error.URLError, ConnectionError):
            if server.process.poll() is not None:
                break
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start:\n{server.log()}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Response:
    status: int
    location: str
    text: str


@dataclass
class HttpClient:
    """One browser-like session: cookies kept, CSRF token sent, redirects not followed."""

    base: str
    jar: CookieJar = field(default_factory=CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> Response:
        body = None
        headers = {"Referer": self.base + path}
        if data is not None:
            data = {"csrfmiddlewaretoken": self.csrf_token(), **data}
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310
        try:
            with self.opener.open(req, timeout=60) as resp:
                return Response(resp.status, resp.headers.get("Location", ""), resp.read().decode())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.headers.get("Location", ""), err.read().decode())

    def get(self, path: str) -> Response:
        return self.request(path)

    def post(self, path: str, data: dict[str, str]) -> Response:
        return self.request(path, data)

    def csrf_token(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken" and cookie.value:
                return cookie.value
        self.get("/login/")
        return next(c.value for c in self.jar if c.name == "csrftoken" and c.value)


def oathtool_codes(base32_key: str, count: int = 1) -> list[str]:
    """The current code and the ``count - 1`` next ones, from oathtool (never our own code)."""
    out = subprocess.run(
        [require_tool("oathtool"), "--totp", "-b", "-w", str(count - 1), base32_key],
        capture_output=True,
        check=True,
        text=True,
        timeout=10,
    ).stdout
    return out.split()


def key_from_setup_page(html: str) -> str:
    found = re.search(r'data-testid="twofa-key">([A-Z2-7 ]+)<', html)
    if found is None:
        raise AssertionError("no 2FA key on the setup page")
    return found.group(1).replace(" ", "")
