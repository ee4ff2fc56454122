"""Twostep against the reference peer (django-two-factor-auth + django-otp), in one run.

    .venv/bin/python bench/harness.py [--db sqlite|postgres] [--runs 3] [--seconds 10]
        [--soak 60] [--profile]

Creates bench/.peer-venv when missing, starts both products under gunicorn (2 sync workers),
seeds them with the same users and known TOTP keys, runs the load generator (bench/loadgen.py,
a separate process) against one product at a time, alternating the order each run, and writes
bench/out/<stamp>-<db>/results.json and summary.md (ratios Twostep / peer, medians of runs).
Every address is 127.0.0.1; every phase is bounded in time; every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MAIN_PY = Path(sys.executable)
PEER_VENV = BENCH / ".peer-venv"
PEER_PY = PEER_VENV / "bin" / "python"
GUNICORN_ARGS = ["--workers", "2", "--threads", "1"]  # the same for both products
PG_URL = "postgresql://postgres@127.0.0.1:5432/"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def snapshot(out_dir: Path) -> tuple[Path, str]:
    """Twostep as committed (HEAD), so edits in progress in the work tree are not measured."""
    commit = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "HEAD"], text=True)
    dest = out_dir / "snapshot"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD", "src", "tests"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest, commit.strip()


def ensure_peer_venv() -> None:
    if not PEER_PY.exists():
        base = subprocess.check_output(
            [str(MAIN_PY), "-c", "import sys; print(sys._base_executable)"], text=True
        ).strip()
        subprocess.run([base, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run(
        [
            str(PEER_PY),
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            str(BENCH / "peer_site/requirements.txt"),
        ],
        check=True,
        timeout=600,
    )


def versions(python: Path) -> dict[str, str]:
    code = (
        "import sys, json, importlib.metadata as m; print(json.dumps({'python': sys.version.split()"
        "[0], **{p: m.version(p) for p in ('Django', 'argon2-cffi', 'gunicorn')}, "
        "**{p: m.version(p) for p in ('django-two-factor-auth', 'django-otp') "
        "if any(d.metadata['Name'] == p for d in m.distributions())}}))"
    )
    return json.loads(subprocess.check_output([str(python), "-c", code], text=True))


def reset_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_URL + "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_URL + name


class Server:
    """One product under gunicorn: its own data folder, environment and log."""

    def __init__(
        self, venv_bin: Path, app: str, probe: str, data_dir: Path, env: dict[str, str]
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.venv_bin, self.app, self.probe = venv_bin, app, probe
        self.data_dir = data_dir
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "TWOSTEP_", "PEER_", "DATABASE_URL", "REDIS_URL"))
        }
        self.env.update(env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        return subprocess.run(
            [str(self.venv_bin / "python"), *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout.strip()

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(self.venv_bin / "gunicorn"),
                    self.app,
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    *GUNICORN_ARGS,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_up(self.url + self.probe, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            if process.poll() is not None:
                break
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def workers(master_pid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def peak_rss_mib(master_pid: int) -> list[float]:
    """VmHWM (the kernel's peak resident set) of each gunicorn worker."""
    out = []
    for pid in workers(master_pid):
        status = Path(f"/proc/{pid}/status").read_text()
        kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        out.append(round(kib / 1024, 1))
    return out


def argon2_cost(python: Path, env: dict[str, str], n: int = 25) -> dict[str, float]:
    """Median time of one hash (encode) and one check with the product's configured hasher,
    and with Django's default Argon2 parameters for comparison, in the product's own venv."""
    code = f"""
import json, statistics, time, django
django.setup()
from django.contrib.auth.hashers import get_hasher, Argon2PasswordHasher
def med(f):
    ts = []
    for _ in range({n}):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return round(1000 * statistics.median(ts), 2)
h = get_hasher("default")
enc = h.encode("bench correct horse", h.salt())
d = Argon2PasswordHasher()
denc = d.encode("bench correct horse", d.salt())
print(json.dumps({{
    "params": [h.memory_cost, h.time_cost, h.parallelism],
    "hash_ms": med(lambda: h.encode("bench correct horse", h.salt())),
    "verify_ms": med(lambda: h.verify("bench correct horse", enc)),
    "django_default_params": [d.memory_cost, d.time_cost, d.parallelism],
    "django_default_verify_ms": med(lambda: d.verify("bench correct horse", denc)),
}}))
"""
    return json.loads(
        subprocess.check_output([str(python), "-c", code], env=env, text=True, timeout=300)
    )


def run_loadgen(product: str, url: str, plan: list[dict], out_dir: Path, tag: str) -> list[dict]:
    out = out_dir / f"{tag}-{product}.json"
    cmd = [
        str(MAIN_PY),
        str(BENCH / "loadgen.py"),
        "--product",
        product,
        "--url",
        url,
        "--plan",
        json.dumps(plan),
        "--state",
        str(out_dir / f"state-{product}.json"),
        "--out",
        str(out),
    ]
    budget = 120 + sum(s.get("seconds", 0) + 60 for s in plan)
    with (out_dir / f"{tag}-{product}.log").open("w") as lg:
        subprocess.run(cmd, check=True, stdout=lg, stderr=subprocess.STDOUT, timeout=budget)
    return json.loads(out.read_text())


def profile_code_step(server: Server, product: str, out_dir: Path, seconds: int) -> dict:
    """py-spy on both workers of ``product`` during the timed part of a 16-client code-step
    run (the password steps that make the pending sessions are not sampled)."""
    pyspy = MAIN_PY.parent / "py-spy"
    if not pyspy.exists():
        return {"skipped": "py-spy not installed (pip install -r bench/requirements.txt)"}
    plan = [{"kind": "code", "clients": 16, "seconds": seconds, "pool": 400}]
    out = out_dir / f"profile-{product}.json"
    cmd = [str(MAIN_PY), str(BENCH / "loadgen.py"), "--product", product, "--url", server.url]
    cmd += ["--plan", json.dumps(plan), "--state", str(out_dir / f"state-{product}.json")]
    cmd += ["--out", str(out)]
    gen = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert gen.stdout is not None
    deadline = time.monotonic() + 900
    for line in gen.stdout:
        if "CODE-STEP-START" in line or time.monotonic() > deadline:
            break
    procs = []
    for pid in workers(server.process.pid):  # type: ignore[union-attr]
        dest = out_dir / f"profile-{product}-{pid}.txt"
        cmd = [str(pyspy), "record", "-p", str(pid), "-d", str(max(1, seconds - 1))]
        cmd += ["-r", "250", "-f", "raw", "-o", str(dest), "--nonblocking"]
        procs.append(
            (dest, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        )
    wait_for_profilers(procs, seconds)
    gen.communicate(timeout=seconds + 120)
    result = json.loads(out.read_text())[0]
    return {"run": result, "folded": [str(d) for d, _ in procs], **fold([d for d, _ in procs])}


def wait_for_profilers(procs: list[tuple[Path, subprocess.Popen]], seconds: int) -> None:
    """Let each py-spy finish its recording; interrupt one that overruns (it then writes)."""
    for _, p in procs:
        try:
            p.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=10)


def folded_stacks(files: list[Path]) -> Iterator[tuple[str, int]]:
    """(stack, samples) of each line of py-spy's folded output ("a;b;c 12"), over ``files``."""
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if count.isdigit():
                yield stack, int(count)


def fold(files: list[Path]) -> dict:
    """Inclusive share of samples by where a stack passes (ours, Django, database, ...)."""
    total = 0
    buckets = {
        "argon2 (password hash)": 0,
        "sqlite3/psycopg (database driver)": 0,
        "twostep (our code, inclusive)": 0,
        "twostep.twofactor.verification.check_code": 0,
        "twostep.twofactor.limits": 0,
        "twostep.audit.events.record": 0,
        "twostep.accounts.pending.pending_user": 0,
        "django.contrib.auth.login": 0,
        "django session load/save": 0,
        "template rendering": 0,
        "logging (JSON request log)": 0,
        "gunicorn idle (waiting for a request)": 0,
        "twostep.twofactor.keyring (AES-GCM unseal)": 0,
        "django_otp (peer)": 0,
        "two_factor + formtools wizard (peer)": 0,
    }
    own: dict[str, int] = {}
    for stack, n in folded_stacks(files):
        total += n
        frames = stack.split(";")
        leaf = frames[-1] if frames else ""
        own[leaf] = own.get(leaf, 0) + n
        checks = {
            "argon2 (password hash)": "argon2" in stack,
            "sqlite3/psycopg (database driver)": "sqlite3" in stack or "psycopg" in stack,
            "twostep (our code, inclusive)": "twostep/" in stack,
            "twostep.twofactor.verification.check_code": "check_code (twostep" in stack,
            "twostep.twofactor.limits": "twofactor/limits.py" in stack,
            "twostep.audit.events.record": "record (twostep/audit/events.py" in stack,
            "twostep.accounts.pending.pending_user": "pending_user (twostep" in stack,
            "django.contrib.auth.login": "login (django/contrib/auth/__init__.py" in stack,
            "django session load/save": "sessions/backends" in stack,
            "template rendering": "django/template" in stack,
            "logging (JSON request log)": "logging/__init__.py" in stack,
            "gunicorn idle (waiting for a request)": "wait (gunicorn" in stack
            or "select (selectors" in stack,
            "twostep.twofactor.keyring (AES-GCM unseal)": "twofactor/keyring.py" in stack,
            "django_otp (peer)": "django_otp/" in stack,
            "two_factor + formtools wizard (peer)": "two_factor/" in stack or "formtools/" in stack,
        }
        for k, hit in checks.items():
            if hit:
                buckets[k] += n
    top = sorted(own.items(), key=lambda kv: -kv[1])[:15]
    return {
        "samples": total,
        "shares_pct": {k: round(100 * v / total, 1) if total else 0 for k, v in buckets.items()},
        "top_self": [(k, round(100 * v / total, 1)) for k, v in top] if total else [],
    }


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 2) if vals else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def summarise(runs: list[dict], soak: dict, extra: dict) -> tuple[dict, str]:
    """Per-figure medians over runs and the median of the per-run ratios."""
    rows: list[tuple[str, str, str]] = []  # (figure, metric key, better)
    figures: dict[str, dict] = {}

    def add(name: str, per_run: list[tuple[float | None, float | None]], better: str) -> None:
        t = [a for a, _ in per_run]
        p = [b for _, b in per_run]
        figures[name] = {
            "twostep_runs": t,
            "peer_runs": p,
            "twostep_median": median(t),
            "peer_median": median(p),
            "ratio_median": median([ratio(a, b) for a, b in per_run]),
            "better": better,
        }
        rows.append((name, "", better))

    def pick(run: dict, product: str, kind: str, clients: int | None = None) -> dict:
        for r in run[product]:
            if r["spec"]["kind"] == kind and (clients is None or r["spec"]["clients"] == clients):
                return r
        return {}

    client_levels = sorted(
        {r["spec"]["clients"] for r in runs[0]["twostep"] if r["spec"]["kind"] == "login"}
    )
    for c in client_levels:
        for metric, better in (("rate", "higher"), ("p50_ms", "lower"), ("p99_ms", "lower")):
            label = {"rate": "logins/s", "p50_ms": "login p50 ms", "p99_ms": "login p99 ms"}
            add(
                f"{label[metric]} @{c}",
                [
                    (
                        pick(r, "twostep", "login", c).get(metric),
                        pick(r, "peer", "login", c).get(metric),
                    )
                    for r in runs
                ],
                better,
            )
    code_clients = pick(runs[0], "twostep", "code").get("spec", {}).get("clients")
    for metric, better in (("rate", "higher"), ("p50_ms", "lower"), ("p99_ms", "lower")):
        label = {
            "rate": "code-step req/s",
            "p50_ms": "code-step p50 ms",
            "p99_ms": "code-step p99 ms",
        }
        add(
            f"{label[metric]} @{code_clients}",
            [
                (pick(r, "twostep", "code").get(metric), pick(r, "peer", "code").get(metric))
                for r in runs
            ],
            better,
        )
    add(
        "replay: trials accepting one code >1x (of 20)",
        [
            (
                pick(r, "twostep", "replay").get("trials_accepted_more_than_once"),
                pick(r, "peer", "replay").get("trials_accepted_more_than_once"),
            )
            for r in runs
        ],
        "lower",
    )
    lines = [
        "| figure | Twostep (median) | peer (median) | Twostep / peer (median of per-run ratios) |",
        "|---|---:|---:|---:|",
    ]
    for name, f in figures.items():
        lines.append(
            f"| {name} | {f['twostep_median']} | {f['peer_median']} | {f['ratio_median']} |"
        )
    errs = extra["errors"]
    lines.append(
        f"| errors, all runs (5xx, database is locked, connection) | {errs['twostep']} "
        f"| {errs['peer']} | - |"
    )
    lines.append(
        f"| unexpected answers, all runs | {extra['unexpected']['twostep']} "
        f"| {extra['unexpected']['peer']} | - |"
    )
    for product in ("twostep", "peer"):
        s = soak.get(product, {})
        figures[f"soak {product}"] = s
    if soak:  # --soak 0 runs none
        lines.append(
            "| soak 64 clients: logins/s / errors / p99 ms | "
            + " | ".join(
                f"{soak[p].get('rate')} / {soak[p].get('error_count')} / {soak[p].get('p99_ms')}"
                for p in ("twostep", "peer")
            )
            + f" | {ratio(soak['twostep'].get('rate'), soak['peer'].get('rate'))} |"
        )
    rss = extra["rss"]
    lines.append(
        f"| peak RSS per worker, MiB (max of workers) | {max(rss['twostep'])} | {max(rss['peer'])} "
        f"| {ratio(max(rss['twostep']), max(rss['peer']))} |"
    )
    a = extra["argon2"]
    lines.append(
        f"| Argon2id hash alone, ms ({a['twostep']['params']}) | {a['twostep']['verify_ms']} "
        f"| {a['peer']['verify_ms']} | {ratio(a['twostep']['verify_ms'], a['peer']['verify_ms'])} |"
    )
    return figures, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured point")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--soak", type=int, default=60, help="64-client login soak, seconds")
    parser.add_argument("--code-pool", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="py-spy the code step afterwards")
    parser.add_argument("--profile-only", action="store_true", help="only the code-step profiles")
    args = parser.parse_args()
    started = time.monotonic()
    out_dir = BENCH / "out" / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.db}"
    out_dir.mkdir(parents=True)
    log(f"output in {out_dir}")
    ensure_peer_venv()
    snap, commit = snapshot(out_dir)
    log(f"Twostep at {commit} (snapshot in {snap})")
    vers = {"twostep": versions(MAIN_PY), "peer": versions(PEER_PY)}
    for k in ("python", "Django", "argon2-cffi", "gunicorn"):
        if vers["twostep"][k] != vers["peer"][k]:
            raise SystemExit(f"{k} differs between the venvs: {vers}")
    log(f"versions {vers}")

    twostep_env = {
        "DJANGO_SETTINGS_MODULE": "twostep.settings",
        "TWOSTEP_DATA_DIR": str(out_dir / "twostep"),
        "TWOSTEP_EMAIL_FILE_PATH": str(out_dir / "twostep" / "mail"),
        "TWOSTEP_TRUSTED_PROXY_COUNT": "1",  # X-Forwarded-For from the load generator
        "PYTHONPATH": f"{snap / 'src'}:{BENCH}",
    }
    peer_env = {
        "DJANGO_SETTINGS_MODULE": "peersite.settings",
        "PEER_DATA_DIR": str(out_dir / "peer"),
        "PYTHONPATH": f"{BENCH / 'peer_site'}:{BENCH}",
    }
    if args.db == "postgres":
        twostep_env["DATABASE_URL"] = reset_pg_database("twostep_bench")
        reset_pg_database("peer_bench")
        peer_env["PEER_PG_NAME"] = "peer_bench"
    twostep = Server(
        MAIN_PY.parent, "twostep.wsgi:application", "/login/", out_dir / "twostep", twostep_env
    )
    peer = Server(
        PEER_PY.parent, "peersite.wsgi:application", "/account/login/", out_dir / "peer", peer_env
    )
    try:
        twostep.run("-m", "twostep", "migrate", "--noinput")
        log(f"twostep: {twostep.run(str(BENCH / 'twostep_seed.py'))}")
        log(f"peer: {peer.run(str(BENCH / 'peer_site/seed.py'))}")
        twostep.start()
        peer.start()
        log(f"twostep {twostep.url}  peer {peer.url}")
        argon2 = {
            "twostep": argon2_cost(MAIN_PY, twostep.env),
            "peer": argon2_cost(PEER_PY, peer.env),
        }
        log(f"argon2 {argon2}")
        clients = [int(c) for c in args.clients.split(",")]
        common = [{"kind": "login", "clients": c, "seconds": args.seconds} for c in clients]
        common.append(
            {"kind": "code", "clients": 16, "seconds": args.seconds, "pool": args.code_pool}
        )
        replay = [{"kind": "replay", "trials": 20, "concurrent": 20}]  # first run only
        ours_only = [
            {"kind": "manage", "clients": 4, "seconds": args.seconds},
            {"kind": "enrol", "clients": 4, "seconds": args.seconds},
        ]
        urls = {"twostep": twostep.url, "peer": peer.url}
        runs = []
        for r in range(0 if args.profile_only else args.runs):
            order = ["twostep", "peer"] if r % 2 == 0 else ["peer", "twostep"]
            run: dict = {}
            for product in order:
                plan = common + (replay if r == 0 else [])
                plan += ours_only if product == "twostep" else []
                log(f"run {r + 1}/{args.runs}: {product}")
                run[product] = run_loadgen(product, urls[product], plan, out_dir, f"run{r + 1}")
                for res in run[product]:
                    spec = res["spec"]
                    log(
                        f"  {product} {spec['kind']} x{spec.get('clients', spec.get('concurrent'))}"
                        f": rate={res.get('rate')} p50={res.get('p50_ms')} p99={res.get('p99_ms')}"
                        f" err={res.get('error_count')} unexp={res.get('unexpected_count')}"
                        f" {res.get('trials', '')}"
                    )
            runs.append(run)
        soak = {}
        if args.soak and not args.profile_only:
            for product in ("twostep", "peer"):
                log(f"soak: {product} 64 clients {args.soak}s")
                res = run_loadgen(
                    product,
                    urls[product],
                    [{"kind": "login", "clients": 64, "seconds": args.soak}],
                    out_dir,
                    "soak",
                )[0]
                soak[product] = res
                log(f"  rate={res['rate']} p99={res['p99_ms']} errors={res['errors']}")
        rss = {
            "twostep": peak_rss_mib(twostep.process.pid),  # type: ignore[union-attr]
            "peer": peak_rss_mib(peer.process.pid),  # type: ignore[union-attr]
        }
        profile = None
        if args.profile or args.profile_only:
            profile = {
                p: profile_code_step(srv, p, out_dir, args.seconds)
                for p, srv in (("twostep", twostep), ("peer", peer))
            }
    finally:
        twostep.stop()
        peer.stop()
    if args.profile_only:
        (out_dir / "profile.json").write_text(json.dumps(profile, indent=1))
        for p, prof in (profile or {}).items():
            print(p, json.dumps({k: prof.get(k) for k in ("shares_pct", "top_self")}, indent=1))
            print(p, "code step under the profiler:", prof.get("run", {}).get("rate"), "req/s")
        return
    logs = {
        p: s.log_path.read_text(errors="replace") for p, s in (("twostep", twostep), ("peer", peer))
    }
    server_problems = {
        p: {
            "database is locked": text.count("database is locked"),
            "Traceback": text.count("Traceback"),
            "WORKER TIMEOUT": text.count("WORKER TIMEOUT"),
            '"status": 5xx': len(re.findall(r'"status": 5\d\d', text)),
        }
        for p, text in logs.items()
    }
    all_results = [res for run in runs for p in run for res in run[p]] + list(soak.values())
    errors = {
        p: sum(r.get("error_count", 0) for r in all_results if r["product"] == p)
        for p in ("twostep", "peer")
    }
    unexpected = {
        p: sum(r.get("unexpected_count", 0) for r in all_results if r["product"] == p)
        for p in ("twostep", "peer")
    }
    extra = {"errors": errors, "unexpected": unexpected, "rss": rss, "argon2": argon2}
    figures, table = summarise(runs, soak, extra)
    elapsed = round(time.monotonic() - started)
    ours = {
        k: [
            {key: r[key] for key in ("rate", "p50_ms", "p99_ms", "error_count", "unexpected_count")}
            for run in runs
            for r in run["twostep"]
            if r["spec"]["kind"] == k
        ]
        for k in ("manage", "enrol")
    }
    results = {
        "db": args.db,
        "runs": args.runs,
        "seconds_per_point": args.seconds,
        "elapsed_s": elapsed,
        "versions": vers,
        "twostep_commit": commit,
        "figures": figures,
        "twostep_only": ours,
        "soak": soak,
        "rss_mib": rss,
        "argon2": argon2,
        "server_log_problems": server_problems,
        "errors": errors,
        "unexpected": unexpected,
        "profile": profile,
        "raw_runs": runs,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    summary = (
        f"# {args.db}: {args.runs} runs, {args.seconds} s per point, {elapsed} s in all, "
        f"Twostep {commit[:10]}\n\n"
        f"{table}\n\nTwostep only (medians): manage users "
        f"{median([x['rate'] for x in ours['manage']])} req/s p50 "
        f"{median([x['p50_ms'] for x in ours['manage']])} ms p99 "
        f"{median([x['p99_ms'] for x in ours['manage']])} ms; enrolments "
        f"{median([x['rate'] for x in ours['enrol']])}/s p99 "
        f"{median([x['p99_ms'] for x in ours['enrol']])} ms\n\n"
        f"Server logs: {json.dumps(server_problems)}\n"
    )
    if profile:
        summary += f"\nProfile of the code step: {json.dumps(profile, indent=1)}\n"
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    log(f"done in {elapsed} s")


if __name__ == "__main__":
    main()
