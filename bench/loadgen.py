"""The load generator: a separate asyncio process speaking raw HTTP/1.1 to 127.0.0.1 only.

    python bench/loadgen.py --product twostep|peer --url http://127.0.0.1:PORT \
        --plan '[{"kind": "login", "clients": 4, "seconds": 10}]' --state FILE --out FILE

Kinds: login (password + code computed here), code (the code step alone on pre-created pending
sessions), manage (Administration > Manage users pages, Twostep only), enrol (sign in, Enable 2FA,
read the key from the page, confirm with its code; Twostep only), replay (N simultaneous
submissions of one code, T trials). Each virtual client is a browser: own cookies, CSRF token
from the cookie, no redirect following; gunicorn's sync workers close every connection.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import base64
import json
import random
import re
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib

TIMEOUT = 120.0


@dataclass
class Resp:
    status: int
    location: str
    body: bytes


class Failure(Exception):
    """A request whose answer was not the one a working product gives."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Browser:
    host: str
    port: int
    address: str  # sent as X-Forwarded-For; only Twostep (TRUSTED_PROXY_COUNT=1) reads it
    cookies: dict[str, str] = field(default_factory=dict)

    def _request_bytes(self, method: str, path: str, form: dict[str, str] | None) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "User-Agent: twostep-bench/1",
            "Connection: close",
            f"Referer: http://{self.host}:{self.port}{path}",
            f"X-Forwarded-For: {self.address}",
        ]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if form is not None:
            form = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **form}
            body = urllib.parse.urlencode(form).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _absorb(self, raw: bytes) -> Resp:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            raise Failure("bad-response")
        status = int(lines[0].split()[1])
        location = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name == "location":
                location = value
            elif name == "set-cookie":
                pair, _, attrs = value.partition(";")
                key, _, val = pair.partition("=")
                expired = "max-age=0" in attrs.lower() or not val.strip('"')
                if expired:
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = val
        return Resp(status, location, body)

    async def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Resp:
        data = self._request_bytes(method, path, form)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), TIMEOUT
            )
            writer.write(data)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(-1), TIMEOUT)
            writer.close()
        except (OSError, TimeoutError) as exc:
            raise Failure(f"connection:{type(exc).__name__}") from exc
        return self.check(self._absorb(raw))

    @staticmethod
    def check(resp: Resp) -> Resp:
        if resp.status >= 500:
            raise Failure(f"http-{resp.status}")
        if b"database is locked" in resp.body:
            raise Failure("database-is-locked")
        return resp

    async def get(self, path: str) -> Resp:
        return await self.request("GET", path)

    async def post(self, path: str, form: dict[str, str]) -> Resp:
        return await self.request("POST", path, form)


def expect(resp: Resp, status: int, where: str, location: str | None = None) -> None:
    if resp.status != status or (location is not None and resp.location != location):
        raise Failure(f"unexpected:{where}:{resp.status}:{resp.location[:40]}")


class Allocator:
    """Hands out users so that no user submits two codes in one 30-second step (a replay)."""

    def __init__(self, emails: list[str], used: dict[str, int]) -> None:
        self.emails = emails
        self.used = used
        self.next = 0

    async def take(self) -> str:
        while True:
            now = benchlib.totp_step()
            for _ in range(len(self.emails)):
                email = self.emails[self.next]
                self.next = (self.next + 1) % len(self.emails)
                if self.used.get(email, -1) < now:
                    self.used[email] = now
                    return email
            await asyncio.sleep(0.5)

    def code(self, email: str) -> str:
        step = benchlib.totp_step()
        self.used[email] = max(step, self.used.get(email, -1))
        return benchlib.totp(benchlib.key_for(email), step)


class Product(abc.ABC):
    """One product under test; subclasses say how its forms look."""

    name = ""
    code_path = ""

    @staticmethod
    @abc.abstractmethod
    def code_form(code: str) -> dict[str, str]: ...

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.addresses = 0

    def browser(self) -> Browser:
        # One documentation-range address per browser (RFC 2544 benchmarking range).
        self.addresses += 1
        n = self.addresses
        return Browser(self.host, self.port, f"198.18.{(n >> 8) & 255}.{n & 255}")

    @abc.abstractmethod
    async def password_step(self, b: Browser, email: str) -> None: ...

    @abc.abstractmethod
    async def code_step(self, b: Browser, code: str) -> bool:
        """Submit the code of a pending login; True when the login completed."""


class Twostep(Product):
    name = "twostep"
    code_path = "/login/code/"

    @staticmethod
    def code_form(code: str) -> dict[str, str]:
        return {"code": code}

    async def password_step(self, b: Browser, email: str) -> None:
        expect(await b.get("/login/"), 200, "login-page")
        resp = await b.post("/login/", {"email": email, "password": benchlib.PASSWORD, "next": ""})
        expect(resp, 302, "password", "/login/code/")

    async def code_page(self, b: Browser) -> None:
        expect(await b.get("/login/code/"), 200, "code-page")

    async def code_step(self, b: Browser, code: str) -> bool:
        resp = await b.post(self.code_path, self.code_form(code))
        if resp.status == 302 and resp.location == "/":
            return True
        expect(resp, 200, "code")
        return False


class Peer(Product):
    name = "peer"
    code_path = "/account/login/"

    @staticmethod
    def code_form(code: str) -> dict[str, str]:
        return {"login_view-current_step": "token", "token-otp_token": code}

    async def password_step(self, b: Browser, email: str) -> None:
        expect(await b.get("/account/login/"), 200, "login-page")
        resp = await b.post(
            "/account/login/",
            {
                "login_view-current_step": "auth",
                "auth-username": email,
                "auth-password": benchlib.PASSWORD,
            },
        )
        expect(resp, 200, "password")
        if b"token-otp_token" not in resp.body:
            raise Failure("unexpected:password:no-token-form")

    async def code_page(self, b: Browser) -> None:
        return None  # the wizard answered the password step with the code form itself

    async def code_step(self, b: Browser, code: str) -> bool:
        resp = await b.post(self.code_path, self.code_form(code))
        if resp.status == 302 and resp.location == "/":
            return True
        expect(resp, 200, "code")
        return False


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)

    def failed(self, exc: Failure) -> None:
        (self.unexpected if exc.kind.startswith("unexpected") else self.errors)[exc.kind] += 1

    def summary(self, elapsed: float) -> dict[str, object]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 2)

        return {
            "ops": len(lat),
            "elapsed_s": round(elapsed, 3),
            "rate": round(len(lat) / elapsed, 3) if elapsed > 0 else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
            "errors": dict(self.errors),
            "error_count": sum(self.errors.values()),
            "unexpected": dict(self.unexpected),
            "unexpected_count": sum(self.unexpected.values()),
        }


async def timed_loop(clients: int, seconds: float, op, stats: Stats) -> float:
    """``clients`` closed loops calling ``op(i)`` until ``seconds`` pass or op returns False."""
    start = time.monotonic()
    deadline = start + seconds

    async def worker(i: int) -> None:
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                more = await op(i)
            except Failure as exc:
                stats.failed(exc)
                continue
            if more is None:
                return
            if more:
                stats.latencies.append(time.monotonic() - t0)

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return time.monotonic() - start


async def scenario_login(p: Product, spec: dict, state: dict) -> dict:
    alloc = Allocator([benchlib.login_email(i) for i in range(benchlib.LOGIN_POOL)], state["used"])
    stats = Stats()

    async def op(_: int) -> bool:
        b = p.browser()
        email = await alloc.take()
        await p.password_step(b, email)
        await p.code_page(b)
        if not await p.code_step(b, alloc.code(email)):
            raise Failure("unexpected:code-refused")
        return True

    elapsed = await timed_loop(spec["clients"], spec["seconds"], op, stats)
    return stats.summary(elapsed)


async def scenario_code(p: Product, spec: dict, state: dict) -> dict:
    """Pending sessions made first (not timed), then only code-step requests are timed."""
    alloc = Allocator([benchlib.code_email(i) for i in range(benchlib.CODE_POOL)], state["used"])
    pool: list[tuple[Browser, str]] = []
    setup = Stats()

    async def make(_: int) -> bool | None:
        if len(pool) >= spec["pool"]:
            return None
        b = p.browser()
        email = await alloc.take()
        await p.password_step(b, email)
        pool.append((b, email))
        return True

    setup_s = await timed_loop(16, 300, make, setup)
    print("CODE-STEP-START", flush=True)  # the harness starts its profiler here
    stats = Stats()

    async def op(_: int) -> bool | None:
        if not pool:
            return None
        b, email = pool.pop()
        if not await p.code_step(b, alloc.code(email)):
            raise Failure("unexpected:code-refused")
        return True

    elapsed = await timed_loop(spec["clients"], spec["seconds"], op, stats)
    out = stats.summary(elapsed)
    out["setup"] = setup.summary(setup_s)
    out["pool_left"] = len(pool)
    return out


async def scenario_manage(p: Product, spec: dict, state: dict) -> dict:
    browsers: list[Browser] = []
    for _ in range(spec["clients"]):
        b = p.browser()
        expect(await b.get("/login/"), 200, "login-page")
        resp = await b.post(
            "/login/", {"email": benchlib.ADMIN_EMAIL, "password": benchlib.PASSWORD, "next": ""}
        )
        expect(resp, 302, "admin-login", "/")
        browsers.append(b)
    pages = benchlib.OFFICE_SIZE // 25
    rng = random.Random(7)
    stats = Stats()

    async def op(i: int) -> bool:
        resp = await browsers[i].get(f"/administration/users/?page={rng.randint(1, pages)}")
        expect(resp, 200, "manage-users")
        if b"bench.example" not in resp.body:
            raise Failure("unexpected:manage-users:empty")
        return True

    elapsed = await timed_loop(spec["clients"], spec["seconds"], op, stats)
    return stats.summary(elapsed)


KEY_RE = re.compile(rb'data-testid="twofa-key">([A-Z2-7 ]+)<')


async def scenario_enrol(p: Product, spec: dict, state: dict) -> dict:
    stats = Stats()

    async def op(_: int) -> bool | None:
        i = state.setdefault("enrol_next", 0)
        if i >= benchlib.ENROL_POOL:
            return None
        state["enrol_next"] = i + 1
        b = p.browser()
        expect(await b.get("/login/"), 200, "login-page")
        resp = await b.post(
            "/login/", {"email": benchlib.enrol_email(i), "password": benchlib.PASSWORD}
        )
        expect(resp, 302, "password-no-2fa", "/")
        resp = await b.post("/account/2fa/enable/", {})
        expect(resp, 302, "enable", "/account/2fa/enable/key/")
        resp = await b.get("/account/2fa/enable/key/")
        expect(resp, 200, "key-page")
        found = KEY_RE.search(resp.body)
        if found is None:
            raise Failure("unexpected:key-page:no-key")
        key = base64.b32decode(found.group(1).replace(b" ", b""))
        code = benchlib.totp(key, benchlib.totp_step())
        resp = await b.post("/account/2fa/enable/code/", {"code": code})
        expect(resp, 302, "confirm", "/account/2fa/enable/done/")
        return True

    elapsed = await timed_loop(spec["clients"], spec["seconds"], op, stats)
    return stats.summary(elapsed)


async def scenario_replay(p: Product, spec: dict, state: dict) -> dict:
    """``concurrent`` sessions of one fresh user each submit the same valid code at once."""
    trials: list[int] = []
    errors = Stats()
    for _ in range(spec["trials"]):
        i = state.setdefault("replay_next", 0)
        if i >= benchlib.REPLAY_POOL:
            raise SystemExit("replay pool exhausted: reseed (new output folder)")
        state["replay_next"] = i + 1
        email = benchlib.replay_email(i)
        browsers = [p.browser() for _ in range(spec["concurrent"])]
        await asyncio.gather(*(p.password_step(b, email) for b in browsers))
        step = benchlib.totp_step()
        if time.time() % 30 > 27:  # do not straddle a step boundary
            await asyncio.sleep(30 - time.time() % 30 + 0.2)
            step = benchlib.totp_step()
        code = benchlib.totp(benchlib.key_for(email), step)
        # Send everything but the last byte on every connection, then the last bytes at once.
        conns = []
        for b in browsers:
            data = b._request_bytes("POST", p.code_path, p.code_form(code))
            reader, writer = await asyncio.open_connection(b.host, b.port)
            writer.write(data[:-1])
            await writer.drain()
            conns.append((b, reader, writer, data[-1:]))
        for _, _, writer, last in conns:
            writer.write(last)
        accepted = 0
        for b, reader, writer, _ in conns:
            raw = await asyncio.wait_for(reader.read(-1), TIMEOUT)
            writer.close()
            try:
                resp = b.check(b._absorb(raw))
            except Failure as exc:
                errors.failed(exc)
                continue
            if resp.status == 302 and resp.location == "/":
                accepted += 1
            elif resp.status != 200:
                errors.failed(Failure(f"unexpected:replay:{resp.status}"))
        trials.append(accepted)
    return {
        "trials": trials,
        "trials_accepted_more_than_once": sum(1 for a in trials if a > 1),
        "trials_accepted_none": sum(1 for a in trials if a == 0),
        "errors": dict(errors.errors),
        "error_count": sum(errors.errors.values()),
        "unexpected": dict(errors.unexpected),
        "unexpected_count": sum(errors.unexpected.values()),
    }


SCENARIOS = {
    "login": scenario_login,
    "code": scenario_code,
    "manage": scenario_manage,
    "enrol": scenario_enrol,
    "replay": scenario_replay,
}


async def main_async(args: argparse.Namespace) -> list[dict]:
    parsed = urllib.parse.urlsplit(args.url)
    assert parsed.hostname == "127.0.0.1", "the benchmark only targets 127.0.0.1"
    product = (Twostep if args.product == "twostep" else Peer)("127.0.0.1", parsed.port or 80)
    state_path = Path(args.state)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    state.setdefault("used", {})
    results = []
    try:
        for spec in json.loads(args.plan):
            t0 = time.monotonic()
            result = await SCENARIOS[spec["kind"]](product, spec, state)
            result.update(spec=spec, product=product.name, wall_s=round(time.monotonic() - t0, 1))
            print(json.dumps({k: v for k, v in result.items() if k != "trials"}), flush=True)
            results.append(result)
    finally:
        state_path.write_text(json.dumps(state))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", choices=["twostep", "peer"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", required=True, help="JSON list of scenario specs")
    parser.add_argument("--state", required=True, help="JSON file: users' last used steps")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
