"""The cluster of deploy/cluster.sh (nginx + 3 gunicorn instances on one PostgreSQL database and
one Redis), started on free ports for the tests, and a client that can pick its source address.

Every address is on the loopback network: requests go to 127.0.0.1 only, but a client may
send them *from* another 127.x.y.z address, so that the per-address guessing limits of one
scenario do not spill into the next (the product counts failures per client address).
"""

from __future__ import annotations

import functools
import http.client
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.live_server import (
    BIN,
    HttpClient,
    Response,
    _NoRedirect,
    free_port,
    key_from_setup_page,
    oathtool_codes,
    require_tool,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "cluster.sh"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "a long and unguessable passphrase 7"
OFFICE = "Cluster Office"


class _SourceHTTPHandler(urllib.request.HTTPHandler):
    """Connects from a chosen loopback address (the destination is unchanged)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(http.client.HTTPConnection, source_address=(self.source, 0))
        return self.do_open(factory, req)  # type: ignore[arg-type]


@dataclass
class ClusterClient(HttpClient):
    """HttpClient that connects from ``source`` (a 127.x.y.z address); ``on(base)`` gives the
    same browser (same cookie jar) talking to another instance."""

    source: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            _SourceHTTPHandler(self.source),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        )

    def on(self, base: str) -> ClusterClient:
        return ClusterClient(base, jar=self.jar, source=self.source)

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.jar if c.name == name), "")


@dataclass
class Cluster:
    directory: Path
    port: int
    instance_ports: list[int]
    database: str
    redis_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def instances(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.instance_ports]

    @property
    def database_url(self) -> str:
        return f"{PG_SERVER}/{self.database}"

    def script(self, *args: str, stdin: str | None = None, timeout: float = 180) -> str:
        result = subprocess.run(
            [str(SCRIPT), *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cluster.sh {args} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def start(self) -> None:
        self.script("start")

    def stop(self) -> None:
        self.script("stop", timeout=120)

    def manage(self, *args: str, stdin: str | None = None) -> str:
        return self.script("manage", *args, stdin=stdin)

    def log(self, port: int) -> str:
        return (self.directory / f"instance-{port}.log").read_text(errors="replace")

    def nginx_log(self) -> str:
        return (self.directory / "nginx-access.log").read_text(errors="replace")

    def kill_instance(self, port: int) -> list[int]:
        """SIGKILL the instance's gunicorn master and its workers; returns their pids."""
        master = int((self.directory / f"instance-{port}.pid").read_text().strip())
        workers = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
            ).stdout.split()
        ]
        for pid in [master, *workers]:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in [master, *workers]):
            time.sleep(0.05)
        return [master, *workers]

    def create_users(self, emails: list[str], with_office: str = OFFICE) -> None:
        """Create users (no 2FA) in one management process: far faster than one per user."""
        code = (
            "from twostep.accounts.models import Office, User\n"
            f"office, _ = Office.objects.get_or_create(name={with_office!r})\n"
            f"for email in {emails!r}:\n"
            f"    User.objects.create_user(email, {PASSWORD!r}, full_name='Cluster User',"
            " office=office)\n"
        )
        self.manage("shell", "-c", code)

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by init) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@functools.cache
def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[0]


def postgresql(action: str) -> None:
    """Start or stop the machine's PostgreSQL (the one every instance uses)."""
    args = [require_tool("pg_ctlcluster"), "--skip-systemctl-redirect", _pg_version(), "main"]
    args.append(action)
    if action == "stop":
        args += ["-m", "fast"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def postgresql_ready() -> bool:
    return (
        subprocess.run(
            [require_tool("pg_isready"), "-h", "127.0.0.1", "-p", "5432", "-q"], check=False
        ).returncode
        == 0
    )


def start_cluster(directory: Path, redis_db: int) -> Cluster:
    ports = _distinct_free_ports(4)
    name = f"twostep_cluster_test_{os.getpid()}_{int(time.time())}"
    cluster = Cluster(
        directory=directory,
        port=ports[0],
        instance_ports=ports[1:],
        database=name,
        redis_url=f"redis://127.0.0.1:6379/{redis_db}",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TWOSTEP_"))}
    env.pop("DATABASE_URL", None)
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    env.update(
        CLUSTER_PORT=str(cluster.port),
        CLUSTER_INSTANCE_PORTS=" ".join(map(str, cluster.instance_ports)),
        CLUSTER_DB=name,
        CLUSTER_DIR=str(directory),
        CLUSTER_DEMO="0",
        CLUSTER_BIN=str(BIN),
        REDIS_URL=cluster.redis_url,
    )
    cluster.env = env
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        drop_database(name)
        raise
    return cluster


def drop_database(name: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# --- flows over HTTP -----------------------------------------------------------------------


def enrol(browser: ClusterClient, email: str) -> str:
    """Sign in (no 2FA yet) and turn 2FA on through the pages; returns the base32 key."""
    signed_in = browser.post("/login/", {"email": email, "password": PASSWORD})
    assert signed_in.location == "/", (signed_in.status, signed_in.text[:500])
    assert browser.post("/account/2fa/enable/", {}).status == 302
    key = key_from_setup_page(browser.get("/account/2fa/enable/key/").text)
    done = browser.post("/account/2fa/enable/code/", {"code": oathtool_codes(key)[0]})
    assert done.location == "/account/2fa/enable/done/", done.text[:2000]
    return key


def next_code(key: str) -> str:
    """The next step's code: newer than any code used so far, accepted in the +1 window."""
    return oathtool_codes(key, 2)[1]


def wrong_code(key: str) -> str:
    """A 6-digit code that is not valid in any step from now-3 to now+3."""
    now = int(time.time())
    near = set(
        subprocess.run(
            [require_tool("oathtool"), "--totp", "-b", "-w", "6", "-N", f"@{now - 90}", key],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )
    candidate = 135790
    while f"{candidate:06d}" in near:
        candidate += 1
    return f"{candidate:06d}"


def password_step(browser: ClusterClient, email: str) -> Response:
    return browser.post("/login/", {"email": email, "password": PASSWORD})


def sources(block: int) -> Iterator[str]:
    """Distinct loopback source addresses 127.0.<block>.1, .2, ..."""
    for last in range(1, 255):
        yield f"127.0.{block}.{last}"
