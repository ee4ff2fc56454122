"""Twostep at scale: sign-in latency with 1,000,000 users against 1,000 (PostgreSQL), and
Administration > Manage users for offices of 25, 1,000 and 10,000 users (SQLite, PostgreSQL).

    .venv/bin/python bench/scale.py                      # both parts, 3 runs, 20-s points
    .venv/bin/python bench/scale.py --part login --runs 5 --keep
    .venv/bin/python bench/scale.py --part manage --runs 3
    .venv/bin/python bench/scale.py --part login --reuse --profile   # py-spy the 1-client point

Twostep is measured as committed (``git archive HEAD src``, like bench/harness.py), under
gunicorn with the harness's flags (2 sync workers). Databases (PostgreSQL on 127.0.0.1:5432,
trust auth, user postgres): twostep_bench_1k, twostep_bench_1m, twostep_bench_offices, and the
SQLite file bench/out/scale-data/offices.sqlite3. They are dropped at the end unless --keep;
--reuse takes a kept database when its seed marker matches (same layout, same key ring).

Seeding (a child process with the snapshot's Django): one shared Argon2 hash for every user
(as twostep_seed.py), emails user0000001@bench.example .., offices of fixed sizes with users
interleaved across the table, 57 % of users with 2FA whose keys are sealed by the product's own
``twostep.twofactor.storage.seal`` (keys from benchlib.key_for, so the client computes codes),
a GuessingState row per 2FA user (enrolment makes one), one past sign-in (3 audit events) per
2FA user, and for the offices database 10 recovery codes per 2FA user. PostgreSQL by COPY,
then VACUUM (ANALYZE); SQLite by bulk_create, then ANALYZE.

Login part: in-process database time per sign-in (Django test client, every query timed), the
EXPLAIN (ANALYZE, BUFFERS) of the user lookup by email and of every SELECT of one sign-in, then
full sign-ins over HTTP (loadgen.py's login: GET/POST /login/, GET/POST /login/code/) at each
client count, alternating 1k/1m, users drawn at random across the whole table.
Manage part: query count (CaptureQueriesContext) and latency of each page in-process, then
latency over HTTP, per office size, page (first, last) and filter (all, on, off).

Results: bench/out/<stamp>-scale/results.json and summary.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import benchlib  # noqa: E402
import harness  # noqa: E402
import loadgen  # noqa: E402

ROOT = BENCH.parent
MAIN_PY = Path(sys.executable)
PG_URL = harness.PG_URL
# Persistent across runs: the development key ring (local-secrets.json) that sealed the keys
# of a kept database, and the SQLite file.
DATA = BENCH / "out" / "scale-data"
SEED_VERSION = 1
# Share of users with 2FA: 57 % as in twostep_seed.py (5,700 of 10,000); every user of the 1k
# database, because a user signs in at most once per 30-s step (a second code in the same step
# is a replay): 570 users would cap the 4-client points at 19 sign-ins/s.
TWOFA_PERCENT = 57

LAYOUTS: dict[str, dict] = {
    "1k": {
        "db": "twostep_bench_1k",
        "users": 1_000,
        "twofa_percent": 100,
        "offices": [25, 475, 500],
        "recovery": False,
        "policy": False,
    },
    "1m": {
        "db": "twostep_bench_1m",
        "users": 1_000_000,
        "offices": [25, 1_000, 10_000] + [98_897] * 9 + [98_902],
        "recovery": False,
        "policy": False,
    },
    "offices": {
        "db": "twostep_bench_offices",
        "users": 11_025,
        "offices": [25, 1_000, 10_000],
        "recovery": True,
        "policy": True,
    },
}
FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Daan",
    "Emma",
    "Farid",
    "Gita",
    "Hugo",
    "Ines",
    "Jan",
    "Kim",
    "Lea",
    "Milan",
    "Noor",
    "Omar",
    "Pia",
    "Quinn",
    "Ravi",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
    "Wout",
    "Xena",
    "Yara",
    "Zoe",
    "Anna",
    "Bram",
    "Cas",
    "Dirk",
]
LAST = [
    "Jansen",
    "Peeters",
    "Dubois",
    "Martin",
    "Visser",
    "Smit",
    "Bakker",
    "Claes",
    "Lambert",
    "Mertens",
    "Mulder",
    "Bos",
    "Vos",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Dijkstra",
    "Maes",
    "Wouters",
    "Janssens",
    "Roux",
    "Girard",
    "Meyer",
    "Fischer",
    "Weber",
    "Novak",
    "Costa",
    "Silva",
    "Rossi",
]


def log(msg: str) -> None:
    harness.log(msg)


# --------------------------------------------------------------------------------------------
# The layout of a seeded database (shared by the parent and the seeding child)


def email(i: int) -> str:
    return f"user{i:07d}@bench.example"


def full_name(i: int) -> str:
    return f"{FIRST[(i * 7) % len(FIRST)]} {LAST[(i * 11) % len(LAST)]}"


def office_assignment(spec: dict) -> list[int]:
    """Office index of user i at position i-1: fixed sizes, users interleaved across ids."""
    sizes = spec["offices"]
    assert sum(sizes) == spec["users"], (sum(sizes), spec["users"])
    assign = [k for k, size in enumerate(sizes) for _ in range(size)]
    random.Random(4).shuffle(assign)
    return assign


def office_admins(assign: list[int]) -> dict[int, int]:
    """The office admin of each office: its lowest user id (always with 2FA)."""
    admins: dict[int, int] = {}
    for i, k in enumerate(assign, start=1):
        admins.setdefault(k, i)
    return admins


def has_2fa(i: int, spec: dict) -> bool:
    return i % 100 < spec.get("twofa_percent", TWOFA_PERCENT)


def login_pool(spec: dict) -> list[int]:
    """Members with 2FA over the whole id range (office admins excluded)."""
    admins = set(office_admins(office_assignment(spec)).values())
    return [i for i in range(1, spec["users"] + 1) if has_2fa(i, spec) and i not in admins]


# --------------------------------------------------------------------------------------------
# Children: run with the snapshot's Django and one database's environment


def child(task: str, env: dict[str, str], timeout: int = 3600, **kwargs: object) -> dict:
    proc = subprocess.run(
        [str(MAIN_PY), str(Path(__file__)), "_child", task, json.dumps(kwargs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {task} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def django_setup() -> None:
    import django

    django.setup()


def keyring_fingerprint() -> str:
    from django.conf import settings

    return hashlib.sha256(settings.TWOSTEP_KEY_RING.encode()).hexdigest()[:16]


def marker_text(spec: dict) -> str:
    return json.dumps(
        {"layout": spec, "keyring": keyring_fingerprint(), "seed": SEED_VERSION}, sort_keys=True
    )


def task_seed(a: dict) -> dict:
    """Seed one database (already migrated) with the layout ``a['layout']``."""
    django_setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    import twostep
    from twostep import recovery_codes
    from twostep.accounts.models import Office, User
    from twostep.audit.models import EventKind, SecurityEvent
    from twostep.twofactor.models import GuessingState, RecoveryCode, TwoFactorDevice
    from twostep.twofactor.storage import seal

    spec = a["spec"]
    pg = connection.vendor == "postgresql"
    marker = marker_text(spec)
    tables = connection.introspection.table_names()
    if "bench_scale_marker" in tables:
        with connection.cursor() as cur:
            cur.execute("SELECT v FROM bench_scale_marker")
            row = cur.fetchone()
        if row and row[0] == marker:
            return {"reused": True, "users": User.objects.count(), "twostep": twostep.__file__}
        return {"needs_reset": True}
    if User.objects.exists():
        return {"needs_reset": True}

    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    now = timezone.now()
    hashed = make_password(benchlib.PASSWORD)  # one Argon2 hash shared by every user
    assign = office_assignment(spec)
    admins = office_admins(assign)
    admin_ids = set(admins.values())

    def write(model: type, cols: list[str], rows) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        n = 0
        if pg:
            table = model._meta.db_table
            with connection.cursor() as cur:
                pgcur = cur.cursor
                with pgcur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as cp:
                    for row in rows:
                        cp.write_row(row)
                        n += 1
        else:
            batch = []
            for row in rows:
                batch.append(model(**dict(zip(cols, row, strict=True))))
                n += 1
                if len(batch) >= 2000:
                    model.objects.bulk_create(batch)
                    batch = []
            if batch:
                model.objects.bulk_create(batch)
        timings[model.__name__] = round(time.perf_counter() - t0, 2)
        counts[model.__name__] = n

    if pg:
        with connection.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
    t_all = time.perf_counter()
    write(
        Office,
        ["id", "name", "created_at", "require_2fa_since", "grace_days"],
        (
            (
                k + 1,
                f"Bench office {k + 1} ({size:,} users)",
                now - timedelta(days=1000),
                now - timedelta(days=30) if spec["policy"] else None,
                14,
            )
            for k, size in enumerate(spec["offices"])
        ),
    )
    n = spec["users"]
    write(
        User,
        [
            "id",
            "password",
            "last_login",
            "is_superuser",
            "email",
            "full_name",
            "office_id",
            "role",
            "is_active",
            "is_staff",
            "date_joined",
            "language",
            "security_stamp",
        ],
        (
            (
                i,
                hashed,
                now - timedelta(hours=i % 700) if has_2fa(i, spec) or i in admin_ids else None,
                False,
                email(i),
                full_name(i),
                assign[i - 1] + 1,
                "office_admin" if i in admin_ids else "member",
                True,
                False,
                now - timedelta(days=i % 60, seconds=i % 86400),
                "",
                secrets.token_hex(16),
            )
            for i in range(1, n + 1)
        ),
    )
    twofa = [i for i in range(1, n + 1) if has_2fa(i, spec) or i in admin_ids]
    t0 = time.perf_counter()
    write(
        TwoFactorDevice,
        [
            "user_id",
            "encrypted_key",
            "confirmed_at",
            "last_used_step",
            "last_used_at",
            "refused_future_steps",
        ],
        (
            (
                i,
                # The product's own seal (it reads only user.pk): AES-GCM with the key ring of
                # TWOSTEP_DATA_DIR, the user id as authenticated data.
                seal(SimpleNamespace(pk=i), benchlib.key_for(email(i))),  # type: ignore[arg-type]
                now - timedelta(days=100 + i % 300),
                0,
                now - timedelta(hours=i % 700),
                "[]" if pg else [],
            )
            for i in twofa
        ),
    )
    timings["TwoFactorDevice incl. seal"] = round(time.perf_counter() - t0, 2)
    write(
        GuessingState,
        ["user_id", "consecutive_failures", "last_failure_at", "locked_at"],
        ((i, 0, None, None) for i in twofa),
    )
    kinds = [EventKind.PASSWORD_ACCEPTED, EventKind.CODE_ACCEPTED, EventKind.LOGIN_SUCCEEDED]
    write(
        SecurityEvent,
        [
            "kind",
            "at",
            "actor_id",
            "subject_id",
            "actor_label",
            "subject_label",
            "client_address",
            "user_agent",
            "reason",
        ],
        (
            (
                str(kind.value),
                now - timedelta(hours=i % 700, seconds=3 - j),
                None,
                i,
                "",
                email(i),
                f"203.0.113.{i % 250 + 1}",  # TEST-NET-3: never an address of the load generator
                "Mozilla/5.0 (bench seed)",
                "",
            )
            for i in twofa
            for j, kind in enumerate(kinds)
        ),
    )
    if spec["recovery"]:
        # Like the password: one Argon2id hash of one code, shared by every row (the page only
        # counts unused rows). Commits before S51 stored salted HMAC digests instead.
        argon2 = getattr(recovery_codes, "hash_for_storage", None)
        shared = argon2(recovery_codes.new_codes(1)[0]) if argon2 else ""

        def codes():  # type: ignore[no-untyped-def]
            for i in twofa:
                salt = "" if argon2 else recovery_codes.new_salt()
                for j, code in enumerate(recovery_codes.new_codes()):
                    used = now - timedelta(days=j + 1) if i % 3 == 0 and j < 3 else None
                    stored = shared if argon2 else recovery_codes.digest(code, salt)
                    yield (i, salt, stored, now - timedelta(days=90), used)

        write(RecoveryCode, ["user_id", "salt", "digest", "created_at", "used_at"], codes())
    timings["all rows"] = round(time.perf_counter() - t_all, 2)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        if pg:
            for table in ("accounts_user", "accounts_office"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        cur.execute("CREATE TABLE bench_scale_marker (v text)")
        cur.execute("INSERT INTO bench_scale_marker (v) VALUES (%s)", [marker])
    with connection.cursor() as cur:
        # VACUUM too: sets the visibility map and hint bits now, so that neither autovacuum
        # nor the first reads of each page do it during the measurements.
        cur.execute("VACUUM (ANALYZE)" if pg else "ANALYZE")
    timings["VACUUM (ANALYZE)" if pg else "ANALYZE"] = round(time.perf_counter() - t0, 2)
    return {
        "reused": False,
        "timings_s": timings,
        "rows": counts,
        "twostep": twostep.__file__,
        "sizes": db_sizes() if pg else {},
    }


def db_sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        out: dict = {"database": cur.fetchone()[0]}
        cur.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND (c.relname LIKE 'accounts_user%%' OR c.relname LIKE 'audit_securityevent%%' "
            "OR c.relname LIKE 'twofactor_twofactordevice%%') AND c.relkind IN ('r', 'i') "
            "ORDER BY pg_relation_size(c.oid) DESC"
        )
        out["relations"] = dict(cur.fetchall())
    return out


class QueryClock:
    """connection.execute_wrapper: count and time every query, per statement text."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_sql: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            dt = time.perf_counter() - t0
            self.count += 1
            self.seconds += dt
            self.by_sql.setdefault(" ".join(sql.split())[:160], []).append(dt)


def fresh(user_id: int) -> bool:
    """True when this user's code of the current step has not been accepted yet."""
    from twostep.twofactor.models import TwoFactorDevice

    last = (
        TwoFactorDevice.objects.filter(user_id=user_id)
        .values_list("last_used_step", flat=True)
        .first()
    )
    return last is not None and last < benchlib.totp_step()


def sign_in(client, user_id: int, address: str) -> list:  # type: ignore[no-untyped-def]
    """A whole sign-in through the Django test client; returns the 4 responses."""
    e = email(user_id)
    r1 = client.get("/login/", HTTP_X_FORWARDED_FOR=address)
    r2 = client.post(
        "/login/",
        {"email": e, "password": benchlib.PASSWORD, "next": ""},
        HTTP_X_FORWARDED_FOR=address,
    )
    assert r2.status_code == 302 and r2["Location"] == "/login/code/", (r2.status_code, e)
    r3 = client.get("/login/code/", HTTP_X_FORWARDED_FOR=address)
    code = benchlib.totp(benchlib.key_for(e), benchlib.totp_step())
    r4 = client.post("/login/code/", {"code": code}, HTTP_X_FORWARDED_FOR=address)
    assert r4.status_code == 302 and r4["Location"] == "/", (r4.status_code, e)
    return [r1, r2, r3, r4]


def task_dbtime(a: dict) -> dict:
    """In-process sign-ins: wall time and the time spent in database queries, per sign-in."""
    django_setup()
    from django.db import connection
    from django.test import Client

    spec = a["spec"]
    pool = login_pool(spec)
    rng = random.Random(a["seed"])
    used: dict[int, int] = {}
    walls, dbs, counts = [], [], []
    per_sql: dict[str, list[float]] = {}
    for n in range(a["logins"]):
        while True:  # outside the timed part: a user whose current code is still unused
            i = rng.choice(pool)
            if used.get(i, -1) < benchlib.totp_step() and fresh(i):
                break
        used[i] = benchlib.totp_step()
        clock = QueryClock()
        client = Client()
        with connection.execute_wrapper(clock):
            t0 = time.perf_counter()
            sign_in(client, i, f"198.19.{(n >> 8) & 255}.{n & 255}")
            walls.append(time.perf_counter() - t0)
        dbs.append(clock.seconds)
        counts.append(clock.count)
        for sql, ts in clock.by_sql.items():
            per_sql.setdefault(sql, []).append(sum(ts))
    top = sorted(per_sql.items(), key=lambda kv: -statistics.mean(kv[1]))[:8]
    return {
        "logins": len(walls),
        "wall_ms_p50": round(1000 * statistics.median(walls), 2),
        "db_ms_p50": round(1000 * statistics.median(dbs), 3),
        "db_ms_mean": round(1000 * statistics.mean(dbs), 3),
        "db_ms_p90": round(1000 * sorted(dbs)[int(0.9 * len(dbs))], 3),
        "queries_per_login": sorted(set(counts)),
        "top_statements_ms_mean": [
            (sql, round(1000 * statistics.mean(ts), 3), len(ts)) for sql, ts in top
        ],
    }


def explain(sql: str, params: object = None) -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return [r[0] for r in cur.fetchall()]


def task_explain(a: dict) -> dict:
    """EXPLAIN ANALYZE of the user lookup by email (users never looked up before) and of
    every SELECT of one whole sign-in."""
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from twostep.accounts.models import User

    spec = a["spec"]
    rng = random.Random(a["seed"])
    lookups = []
    for _ in range(3):
        e = email(rng.randint(1, spec["users"]))
        # What ModelBackend runs: UserManager.get_by_natural_key -> .get(email=...) (LIMIT 21)
        sql, params = User.objects.filter(email=e)[:21].query.sql_with_params()
        lookups.append({"email": e, "sql": sql, "plan": explain(sql, params)})
    # The throttle's own lookup (accounts.throttle.seconds_to_wait)
    e = email(rng.randint(1, spec["users"]))
    qs = User.objects.filter(email=e).values_list("pk", flat=True).order_by("email")[:1]
    sql, params = qs.query.sql_with_params()
    throttle_lookup = {"email": e, "sql": sql, "plan": explain(sql, params)}
    pool = login_pool(spec)
    while True:
        i = rng.choice(pool)
        if fresh(i):
            break
    with CaptureQueriesContext(connection) as ctx:
        sign_in(Client(), i, "198.19.255.254")
    statements = []
    for q in ctx.captured_queries:
        sql = q["sql"]
        row = {"sql": " ".join(sql.split())[:200]}
        if sql.lstrip().upper().startswith("SELECT"):
            plan = explain(sql)
            row["plan_top"] = [ln for ln in plan if "Scan" in ln or "Limit" in ln][:3]
            row["execution"] = next((ln for ln in plan if ln.startswith("Execution Time")), "")
            row["seq_scan"] = any("Seq Scan" in ln for ln in plan)
        statements.append(row)
    return {
        "email_lookups": lookups,
        "throttle_lookup": throttle_lookup,
        "sign_in_queries": len(ctx.captured_queries),
        "sign_in_statements": statements,
        "sizes": db_sizes(),
    }


def task_walcheck(a: dict) -> dict:
    """The WAL that a sign-in's two row updates write, for users at random (rolled back), and
    how many updates so far were HOT (no index entries to add)."""
    django_setup()
    from django.db import connection, transaction

    spec = a["spec"]
    rng = random.Random(a["seed"])
    pool = login_pool(spec)
    statements = {
        "accounts_user.last_login": 'UPDATE "accounts_user" SET "last_login" = now() '
        'WHERE "accounts_user"."id" = %s',
        "twofactor_twofactordevice.last_used_at": 'UPDATE "twofactor_twofactordevice" '
        'SET "last_used_at" = now() WHERE "twofactor_twofactordevice"."user_id" = %s',
    }
    samples: dict[str, list[str]] = {k: [] for k in statements}
    for _ in range(a["users"]):
        i = rng.choice(pool)
        with transaction.atomic():
            for label, sql in statements.items():
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) " + sql, [i])
                    plan = [r[0] for r in cur.fetchall()]
                samples[label].append(next(ln.strip() for ln in plan if "WAL:" in ln))
            transaction.set_rollback(True)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname IN "
            "('accounts_user', 'twofactor_twofactordevice', 'django_session') ORDER BY relname"
        )
        hot = {r[0]: {"updates": r[1], "hot": r[2]} for r in cur.fetchall()}
    return {"wal_per_update": samples, "hot_updates": hot}


def manage_combos(spec: dict) -> list[dict]:
    """Every (office, filter, page) to read: pages 1 and last, and the rows expected."""
    assign = office_assignment(spec)
    admins = office_admins(assign)
    admin_ids = set(admins.values())
    combos = []
    for k, size in enumerate(spec["offices"]):
        members = [i for i, o in enumerate(assign, start=1) if o == k]
        on = sum(1 for i in members if has_2fa(i, spec) or i in admin_ids)
        for flt, total in (("all", size), ("on", on), ("off", size - on)):
            last = max(1, -(-total // 25))
            for page in sorted({1, last}):
                rows = min(25, total - 25 * (page - 1)) if total else 0
                combos.append(
                    {
                        "office": k,
                        "size": size,
                        "admin": admins[k],
                        "filter": flt,
                        "page": page,
                        "last": page == last,
                        "rows": rows,
                    }
                )
    return combos


def manage_url(c: dict) -> str:
    return f"/administration/users/?twofa={c['filter']}&page={c['page']}"


def task_manage(a: dict) -> dict:
    """In-process: each page's query count (CaptureQueriesContext) and latency."""
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    spec = a["spec"]
    combos = manage_combos(spec)
    if a.get("reverse"):
        combos = combos[::-1]
    clients = {}
    for k, admin in sorted({(c["office"], c["admin"]) for c in combos}):
        while not fresh(admin):
            time.sleep(1)
        clients[k] = Client()
        sign_in(clients[k], admin, f"198.19.254.{k + 1}")
    out = []
    for c in combos:
        client, url = clients[c["office"]], manage_url(c)
        assert client.get(url).status_code == 200  # warm: templates, connection
        times, counts, sqls = [], set(), None
        for _ in range(a["reps"]):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                resp = client.get(url)
                times.append(time.perf_counter() - t0)
            assert resp.status_code == 200, (url, resp.status_code)
            rows = resp.content.count(b'<tr data-email="')
            assert rows == c["rows"], (c, rows)
            counts.add(len(ctx.captured_queries))
            sqls = [(" ".join(q["sql"].split()), q["time"]) for q in ctx.captured_queries]
        plans = None
        if a.get("explain") and c["size"] == max(spec["offices"]) and c["last"]:
            plans = explain_page(sqls or [], connection.vendor)
        out.append(
            {
                **c,
                "queries": sorted(counts),
                "ms_p50": round(1000 * statistics.median(times), 2),
                "ms_all": [round(1000 * t, 2) for t in times],
                "sql": sqls,
                "plans": plans,
            }
        )
    experiments = page_experiments(spec) if a.get("explain") else None
    return {"vendor": connection.vendor, "pages": out, "experiments": experiments}


def page_experiments(spec: dict) -> dict:
    """What the largest office's last page costs as the view builds it, and as it could be
    built (nothing in the product is changed: these are queries run here, then undone)."""
    from django.db import connection
    from django.db.models import Count

    from twostep.accounts.models import Office, User
    from twostep.twofactor.status import with_two_factor_status

    size = max(spec["offices"])
    office = Office.objects.get(pk=spec["offices"].index(size) + 1)
    users = User.objects.filter(office=office)
    offset = 25 * ((size - 1) // 25)
    order = ("full_name", "email")

    def current() -> list:  # the view: annotate every row of the office, sort, then slice
        return list(with_two_factor_status(users).order_by(*order)[offset : offset + 25])

    def ids_first() -> list:  # slice a lean query first, annotate only the page's 25 rows
        ids = users.order_by(*order).values("pk")[offset : offset + 25]
        return list(with_two_factor_status(User.objects.filter(pk__in=ids)).order_by(*order))

    def three_counts() -> list:  # total, with_2fa and the paginator's count
        return [users.count(), users.filter(two_factor_device__isnull=False).count(), users.count()]

    def one_aggregate() -> dict:
        return users.aggregate(total=Count("pk"), with_2fa=Count("two_factor_device"))

    def ms(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return round(1000 * statistics.median(times), 2)

    assert [u.pk for u in current()] == [u.pk for u in ids_first()]
    out: dict = {"office_size": size, "offset": offset}
    out["current page query ms"] = ms(current)
    out["ids-first page query ms"] = ms(ids_first)
    out["3 counts ms"] = ms(three_counts)
    out["1 aggregate ms"] = ms(one_aggregate)
    pg = connection.vendor == "postgresql"
    if pg:
        with connection.cursor() as cur:
            cur.execute("SET jit = off")
        out["current page query, jit off, ms"] = ms(current)
        with connection.cursor() as cur:
            cur.execute("RESET jit")
        sql, params = (
            with_two_factor_status(
                User.objects.filter(
                    pk__in=users.order_by(*order).values("pk")[offset : offset + 25]
                )
            )
            .order_by(*order)
            .query.sql_with_params()
        )
        out["ids-first plan"] = explain(sql, params)
    with connection.cursor() as cur:
        cur.execute(
            "CREATE INDEX bench_tmp_office_name ON accounts_user (office_id, full_name, email)"
        )
        cur.execute("ANALYZE accounts_user")
    try:
        out["with index (office_id, full_name, email): current ms"] = ms(current)
        out["with index (office_id, full_name, email): ids-first ms"] = ms(ids_first)
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP INDEX bench_tmp_office_name")
            cur.execute("ANALYZE accounts_user")
    return out


def explain_page(sqls: list, vendor: str) -> list:
    from django.db import connection

    plans = []
    for sql, _ in sqls:
        if not sql.upper().startswith("SELECT"):
            continue
        if vendor == "postgresql":
            plan = explain(sql)
        else:
            with connection.cursor() as cur:
                cur.execute("EXPLAIN QUERY PLAN " + sql)
                plan = [r[-1] for r in cur.fetchall()]
                t0 = time.perf_counter()
                cur.execute(sql)
                cur.fetchall()
                plan.append(f"executed in {1000 * (time.perf_counter() - t0):.2f} ms")
        plans.append({"sql": sql[:300], "plan": plan})
    return plans


TASKS = {
    "seed": task_seed,
    "dbtime": task_dbtime,
    "explain": task_explain,
    "walcheck": task_walcheck,
    "manage": task_manage,
}


# --------------------------------------------------------------------------------------------
# The parent: databases, servers, load


def snapshot(out_dir: Path, rev: str) -> tuple[Path, str]:
    """Twostep's src/ at ``rev`` (HEAD by default), as bench/harness.py takes it."""
    commit = subprocess.check_output(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"], text=True
    ).strip()
    dest = out_dir / "snapshot"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest, commit


def product_env(snap: Path, database: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TWOSTEP_", "PEER_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="twostep.settings",
        TWOSTEP_DATA_DIR=str(DATA),
        TWOSTEP_EMAIL_FILE_PATH=str(DATA / "mail"),
        TWOSTEP_TRUSTED_PROXY_COUNT="1",  # X-Forwarded-For from the load generator
        TWOSTEP_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        PYTHONPATH=f"{snap / 'src'}:{BENCH}",
    )
    if database.endswith(".sqlite3"):
        env["TWOSTEP_SQLITE_PATH"] = database
    else:
        env["DATABASE_URL"] = PG_URL + database
    return env


def sqlite_path(name: str) -> str:
    return str(DATA / f"{name}.sqlite3")


def drop_database(database: str) -> None:
    if database.endswith(".sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(PG_URL + "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def pg_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(PG_URL + "postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()


def prepare(layout: str, database: str, snap: Path, reuse: bool) -> dict:
    """Create (or reuse), migrate and seed one database; returns the seed report."""
    env = product_env(snap, database)
    sqlite = database.endswith(".sqlite3")
    exists = Path(database).exists() if sqlite else pg_exists(database)
    t0 = time.monotonic()
    for attempt in range(2):
        if not (reuse and exists) or attempt == 1:
            drop_database(database)
            if not sqlite:
                harness.reset_pg_database(database)
        subprocess.run(
            [str(MAIN_PY), "-m", "twostep", "migrate", "--noinput"],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        report = child("seed", env, spec=LAYOUTS[layout])
        if not report.get("needs_reset"):
            break
    report["total_s"] = round(time.monotonic() - t0, 1)
    return report


class LoadAverage:
    """Samples os.getloadavg() every 5 s in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(5):
            self.samples.append((time.time(), os.getloadavg()[0]))

    def since(self, t0: float) -> dict:
        vals = [v for t, v in self.samples if t >= t0] or [os.getloadavg()[0]]
        return {"min": min(vals), "median": round(statistics.median(vals), 2), "max": max(vals)}

    def stop(self) -> None:
        self._stop.set()


def wait_next_step() -> None:
    """Until a new 30-s TOTP step begins (so no code of the previous phase is reused)."""
    step = benchlib.totp_step()
    while benchlib.totp_step() == step:
        time.sleep(0.5)


class Picker:
    """Users at random over the whole table; never two codes of one user in one step."""

    def __init__(self, pool: list[int], seed: int) -> None:
        self.pool = pool
        self.rng = random.Random(seed)
        self.used: dict[int, int] = {}
        self.stalled_s = 0.0

    async def take(self) -> int:
        while True:
            step = benchlib.totp_step()
            for _ in range(200):
                i = self.rng.choice(self.pool)
                if self.used.get(i, -1) < step:
                    self.used[i] = step
                    return i
            t0 = time.monotonic()
            await asyncio.sleep(0.2)
            self.stalled_s += time.monotonic() - t0

    def code(self, i: int) -> str:
        step = benchlib.totp_step()
        self.used[i] = max(step, self.used.get(i, -1))
        return benchlib.totp(benchlib.key_for(email(i)), step)


async def login_point(url: str, picker: Picker, clients: int, seconds: float) -> dict:
    """loadgen.py's login scenario (GET/POST /login/, GET/POST /login/code/), closed loops;
    the user is drawn before the clock starts."""
    port = int(url.rsplit(":", 1)[1])
    product = loadgen.Twostep("127.0.0.1", port)
    stats = loadgen.Stats()
    stalled0 = picker.stalled_s
    start = time.monotonic()
    deadline = start + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            i = await picker.take()
            b = product.browser()
            t0 = time.monotonic()
            try:
                await product.password_step(b, email(i))
                await product.code_page(b)
                if not await product.code_step(b, picker.code(i)):
                    raise loadgen.Failure("unexpected:code-refused")
            except loadgen.Failure as exc:
                stats.failed(exc)
                continue
            stats.latencies.append(time.monotonic() - t0)

    await asyncio.gather(*(worker() for _ in range(clients)))
    out = stats.summary(time.monotonic() - start)
    out["stalled_s"] = round(picker.stalled_s - stalled0, 2)
    return out


def server_durations(log_path: Path, offset: int) -> tuple[dict, int]:
    """Median duration_ms of each request kind in Twostep's JSON request log since ``offset``."""
    with log_path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    per: dict[str, list[float]] = {}
    for line in data.decode(errors="replace").splitlines():
        if not line.startswith("{") or '"twostep.request"' not in line:
            continue
        rec = json.loads(line)
        per.setdefault(f"{rec['method']} {rec['path']}", []).append(rec["duration_ms"])
    return {k: round(statistics.median(v), 1) for k, v in sorted(per.items())}, offset + len(data)


def med(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 2) if vals else None


def pyspy(server: harness.Server, dest: str, seconds: int, load) -> dict:  # type: ignore[no-untyped-def]
    """py-spy (250 Hz) on both gunicorn workers while ``load()`` runs for about ``seconds``."""
    exe = MAIN_PY.parent / "py-spy"
    if not exe.exists():
        return {"skipped": "py-spy not installed (pip install -r bench/requirements.txt)"}
    procs = []
    for pid in harness.workers(server.process.pid):  # type: ignore[union-attr]
        out = Path(f"{dest}-{pid}.txt")
        cmd = [str(exe), "record", "-p", str(pid), "-d", str(seconds), "-r", "250"]
        cmd += ["-f", "raw", "-o", str(out), "--nonblocking"]
        procs.append(
            (out, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        )
    time.sleep(1)
    res = load()
    harness.wait_for_profilers(procs, seconds)
    files = [f for f, _ in procs]
    return {
        "run": res,
        "folded": [str(f) for f in files],
        **harness.fold(files),
        "where_pct": where(files),
    }


WHERE = {
    "manage_users view (inclusive)": "manage_users (twostep/administration/views.py",
    "database driver (psycopg/sqlite3)": "psycopg",
    "sqlite3": "sqlite3",
    "paginator": "django/core/paginator.py",
    "template rendering": "django/template",
    "Argon2": "argon2",
    "session load/save": "sessions/backends",
    "gunicorn idle": "wait (gunicorn",
}


def where(files: list[Path]) -> dict:
    """Inclusive share of samples whose stack passes through each of WHERE's markers."""
    total = 0
    hits = dict.fromkeys(WHERE, 0)
    for stack, n in harness.folded_stacks(files):
        total += n
        for k, marker in WHERE.items():
            if marker in stack:
                hits[k] += n
    return {
        "samples": total,
        **{k: round(100 * v / total, 1) if total else 0 for k, v in hits.items()},
    }


def part_login(args: argparse.Namespace, snap: Path, out_dir: Path, load: LoadAverage) -> dict:
    labels = ["1k", "1m"]
    dbs = {lb: LAYOUTS[lb]["db"] for lb in labels}
    seeds = {}
    for lb in labels:
        log(f"seeding {dbs[lb]} ({LAYOUTS[lb]['users']:,} users)")
        seeds[lb] = prepare(lb, dbs[lb], snap, args.reuse)
        log(f"  {json.dumps(seeds[lb])}")
    envs = {lb: product_env(snap, dbs[lb]) for lb in labels}
    pools = {lb: login_pool(LAYOUTS[lb]) for lb in labels}

    log("EXPLAIN ANALYZE (user lookup by email; every SELECT of one sign-in)")
    plans = {lb: child("explain", envs[lb], spec=LAYOUTS[lb], seed=11) for lb in labels}
    for lb in labels:
        log(f"  {lb}: {plans[lb]['email_lookups'][0]['plan']}")
        seq = [s["sql"][:80] for s in plans[lb]["sign_in_statements"] if s.get("seq_scan")]
        log(f"  {lb}: {plans[lb]['sign_in_queries']} queries per sign-in; seq scans: {seq}")

    log(f"in-process database time per sign-in ({args.dbtime_logins} sign-ins per point)")
    dbtime: dict[str, list] = {lb: [] for lb in labels}
    for r in range(args.runs):
        for lb in labels if r % 2 == 0 else labels[::-1]:
            t0 = time.time()
            res = child(
                "dbtime", envs[lb], spec=LAYOUTS[lb], logins=args.dbtime_logins, seed=100 + r
            )
            res["load"] = load.since(t0)
            dbtime[lb].append(res)
            log(
                f"  run {r + 1} {lb}: wall p50 {res['wall_ms_p50']} ms, db p50 "
                f"{res['db_ms_p50']} ms, queries {res['queries_per_login']}, load {res['load']}"
            )

    servers = {
        lb: harness.Server(
            MAIN_PY.parent,
            "twostep.wsgi:application",
            "/login/",
            out_dir / f"server-{lb}",
            envs[lb],
        )
        for lb in labels
    }
    clients = [int(c) for c in args.clients.split(",")]
    points: dict[str, dict[int, list]] = {lb: {c: [] for c in clients} for lb in labels}
    profiles = {}
    try:
        for lb in labels:
            servers[lb].start()
            log(f"{lb}: Twostep on {servers[lb].url}")
        wait_next_step()  # codes used in-process above are not reused here
        pickers = {lb: Picker(pools[lb], 7) for lb in labels}
        offsets = {lb: 0 for lb in labels}
        for lb in labels:  # warm-up, not recorded: imports, templates, connections, caches
            asyncio.run(login_point(servers[lb].url, pickers[lb], 2, args.warmup))
            offsets[lb] = servers[lb].log_path.stat().st_size
        for r in range(args.runs):
            for ci, c in enumerate(clients):
                order = labels if (r + ci) % 2 == 0 else labels[::-1]
                for lb in order:
                    t0 = time.time()
                    res = asyncio.run(login_point(servers[lb].url, pickers[lb], c, args.seconds))
                    res["load"] = load.since(t0)
                    res["server_ms_p50"], offsets[lb] = server_durations(
                        servers[lb].log_path, offsets[lb]
                    )
                    points[lb][c].append(res)
                    log(
                        f"run {r + 1} {lb} x{c}: {res['rate']} logins/s p50 {res['p50_ms']} "
                        f"p99 {res['p99_ms']} err {res['error_count']} unexp "
                        f"{res['unexpected_count']} stalled {res['stalled_s']}s load "
                        f"{res['load']['median']} server {res['server_ms_p50']}"
                    )
        if args.profile:
            pc = args.profile_clients
            for lb in labels:
                log(f"profile {lb}: py-spy, {pc} clients, {args.seconds} s")
                profiles[lb] = pyspy(
                    servers[lb],
                    str(out_dir / f"profile-login-{lb}-x{pc}"),
                    args.seconds,
                    lambda lb=lb: asyncio.run(
                        login_point(servers[lb].url, pickers[lb], pc, args.seconds - 1.5)
                    ),
                )
                log(f"  {json.dumps(profiles[lb].get('shares_pct'))}")
                log(f"  {json.dumps(profiles[lb].get('where_pct'))}")
        rss = {lb: harness.peak_rss_mib(servers[lb].process.pid) for lb in labels}  # type: ignore[union-attr]
    finally:
        for s in servers.values():
            s.stop()
    walcheck = {
        lb: child("walcheck", envs[lb], spec=LAYOUTS[lb], seed=23, users=5) for lb in labels
    }
    for lb in labels:
        log(f"WAL per update {lb}: {json.dumps(walcheck[lb])}")
    problems = {}
    for lb in labels:
        text = servers[lb].log_path.read_text(errors="replace")
        problems[lb] = {
            "Traceback": text.count("Traceback"),
            "WORKER TIMEOUT": text.count("WORKER TIMEOUT"),
            '"status": 5xx': sum(text.count(f'"status": 5{d}') for d in ("00", "02", "03")),
        }
    summary = {}
    for c in clients:
        row: dict = {}
        for metric in ("rate", "p50_ms", "p99_ms"):
            a = [p[metric] for p in points["1k"][c]]
            b = [p[metric] for p in points["1m"][c]]
            row[metric] = {
                "1k_runs": a,
                "1m_runs": b,
                "1k": med(a),
                "1m": med(b),
                "ratio_of_medians": round(med(b) / med(a), 3) if med(a) else None,
                "median_of_run_ratios": med([y / x for x, y in zip(a, b, strict=True) if x]),
            }
        for lb in labels:
            keys = sorted({k for p in points[lb][c] for k in p["server_ms_p50"]})
            row[f"server_ms_p50_{lb}"] = {
                k: med([p["server_ms_p50"].get(k) for p in points[lb][c]]) for k in keys
            }
        row["errors"] = {lb: sum(p["error_count"] for p in points[lb][c]) for lb in labels}
        row["unexpected"] = {lb: sum(p["unexpected_count"] for p in points[lb][c]) for lb in labels}
        row["ops"] = {lb: [p["ops"] for p in points[lb][c]] for lb in labels}
        row["stalled_s"] = {lb: [p["stalled_s"] for p in points[lb][c]] for lb in labels}
        row["load_median"] = {lb: [p["load"]["median"] for p in points[lb][c]] for lb in labels}
        summary[c] = row
    dbsum = {
        lb: {
            "wall_ms_p50": med([d["wall_ms_p50"] for d in dbtime[lb]]),
            "db_ms_p50": med([d["db_ms_p50"] for d in dbtime[lb]]),
            "db_ms_runs": [d["db_ms_p50"] for d in dbtime[lb]],
            "queries_per_login": sorted({q for d in dbtime[lb] for q in d["queries_per_login"]}),
        }
        for lb in labels
    }
    return {
        "seeding": seeds,
        "explain": plans,
        "walcheck": walcheck,
        "dbtime_runs": dbtime,
        "dbtime": dbsum,
        "http_points": points,
        "http_summary": summary,
        "server_log_problems": problems,
        "rss_mib": rss,
        "profiles": profiles,
        "pool_sizes": {lb: len(pools[lb]) for lb in labels},
    }


def part_manage(args: argparse.Namespace, snap: Path, out_dir: Path, load: LoadAverage) -> dict:
    spec = LAYOUTS["offices"]
    dbs = {"sqlite": sqlite_path("offices"), "postgres": spec["db"]}
    seeds, envs = {}, {}
    for kind, database in dbs.items():
        log(f"seeding {database} ({spec['users']:,} users; offices {spec['offices']})")
        seeds[kind] = prepare("offices", database, snap, args.reuse)
        envs[kind] = product_env(snap, database)
        log(f"  {json.dumps(seeds[kind])}")
    inproc: dict[str, list] = {k: [] for k in dbs}
    for r in range(args.runs):
        for kind in list(dbs) if r % 2 == 0 else list(dbs)[::-1]:
            t0 = time.time()
            res = child(
                "manage",
                envs[kind],
                spec=spec,
                reps=args.manage_reps,
                reverse=bool(r % 2),
                explain=(r == 0),
            )
            res["load"] = load.since(t0)
            inproc[kind].append(res)
            log(f"  in-process run {r + 1} {kind}: load {res['load']}")
            if res.get("experiments"):
                ex = {k: v for k, v in res["experiments"].items() if "plan" not in k}
                log(f"    experiments: {json.dumps(ex)}")
            for p in res["pages"]:
                log(
                    f"    office {p['size']:>6} {p['filter']:>3} page {p['page']:>3}: "
                    f"{p['queries']} queries, {p['ms_p50']} ms"
                )
    # HTTP: one server per database, each office admin signed in once, 1 client
    combos = manage_combos(spec)
    http: dict[str, list] = {k: [] for k in dbs}
    profiles: dict[str, dict] = {}
    servers = {
        kind: harness.Server(
            MAIN_PY.parent,
            "twostep.wsgi:application",
            "/login/",
            out_dir / f"server-offices-{kind}",
            envs[kind],
        )
        for kind in dbs
    }
    try:
        for s in servers.values():
            s.start()
        wait_next_step()  # the in-process runs signed the same admins in
        browsers = {}
        for kind, s in servers.items():
            product = loadgen.Twostep("127.0.0.1", s.port)
            for k, admin in sorted({(c["office"], c["admin"]) for c in combos}):
                b = product.browser()

                async def sign(b=b, admin=admin, product=product) -> None:  # type: ignore[no-untyped-def]
                    await product.password_step(b, email(admin))
                    code = benchlib.totp(benchlib.key_for(email(admin)), benchlib.totp_step())
                    assert await product.code_step(b, code), "admin code refused"

                asyncio.run(sign())
                browsers[(kind, k)] = b

        async def read(b: loadgen.Browser, c: dict, n: int) -> list[float]:
            times = []
            for _ in range(n):
                t0 = time.monotonic()
                resp = await b.get(manage_url(c))
                times.append(time.monotonic() - t0)
                loadgen.expect(resp, 200, "manage-users")
                rows = resp.body.count(b'<tr data-email="')
                if rows != c["rows"]:
                    raise RuntimeError(f"{c}: {rows} rows")
            return times

        for r in range(args.runs):
            for kind in list(dbs) if r % 2 == 0 else list(dbs)[::-1]:
                t0 = time.time()
                run = []
                for c in combos if r % 2 == 0 else combos[::-1]:
                    b = browsers[(kind, c["office"])]
                    asyncio.run(read(b, c, 1))  # warm
                    times = asyncio.run(read(b, c, args.manage_reps))
                    run.append({**c, "ms_p50": round(1000 * statistics.median(times), 2)})
                http[kind].append({"pages": run, "load": load.since(t0)})
                log(f"  HTTP run {r + 1} {kind}: load {http[kind][-1]['load']}")
        if args.profile:  # the largest office's last page against the smallest office's page
            targets = [c for c in combos if c["filter"] == "all" and (c["size"] == 25 or c["last"])]
            targets = [min(targets, key=lambda c: c["size"]), max(targets, key=lambda c: c["size"])]

            async def loop(b: loadgen.Browser, c: dict, seconds: float) -> dict:
                deadline, times = time.monotonic() + seconds, []
                while time.monotonic() < deadline:
                    times += await read(b, c, 1)
                return {"requests": len(times), "ms_p50": round(1000 * statistics.median(times), 2)}

            for kind in dbs:
                for c in targets:
                    tag = f"{kind}-office{c['size']}-page{c['page']}"
                    log(f"profile manage {tag}: py-spy, 1 client, {args.seconds} s")
                    profiles[tag] = pyspy(
                        servers[kind],
                        str(out_dir / f"profile-manage-{tag}"),
                        args.seconds,
                        lambda kind=kind, c=c: asyncio.run(
                            loop(browsers[(kind, c["office"])], c, args.seconds - 1.5)
                        ),
                    )
                    log(f"  {json.dumps(profiles[tag].get('where_pct'))}")
                    log(f"  top self: {profiles[tag].get('top_self', [])[:8]}")
    finally:
        for s in servers.values():
            s.stop()
    table = []
    for c in combos:
        key = (c["office"], c["filter"], c["page"])
        row = {k: c[k] for k in ("size", "filter", "page", "last", "rows")}
        for kind in dbs:
            pages = [
                next(p for p in run["pages"] if (p["office"], p["filter"], p["page"]) == key)
                for run in inproc[kind]
            ]
            row[f"{kind}_queries"] = sorted({q for p in pages for q in p["queries"]})
            row[f"{kind}_inproc_ms"] = med([p["ms_p50"] for p in pages])
            hp = [
                next(p for p in run["pages"] if (p["office"], p["filter"], p["page"]) == key)
                for run in http[kind]
            ]
            row[f"{kind}_http_ms"] = med([p["ms_p50"] for p in hp])
            row[f"{kind}_http_ms_runs"] = [p["ms_p50"] for p in hp]
        table.append(row)
    return {
        "seeding": seeds,
        "inprocess_runs": inproc,
        "http_runs": http,
        "table": table,
        "profiles": profiles,
    }


def fmt_login(res: dict) -> str:
    lines = [
        "| clients | figure | 1,000 users | 1,000,000 users | 1M / 1k (median of run ratios) "
        "| per run, 1k | per run, 1M |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for c, row in res["http_summary"].items():
        for metric, label in (("rate", "logins/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms")):
            m = row[metric]
            lines.append(
                f"| {c} | {label} | {m['1k']} | {m['1m']} | {m['median_of_run_ratios']} "
                f"| {m['1k_runs']} | {m['1m_runs']} |"
            )
    d = res["dbtime"]
    lines += [
        "",
        "| in-process, per sign-in | 1,000 users | 1,000,000 users |",
        "|---|---:|---:|",
        f"| wall ms p50 | {d['1k']['wall_ms_p50']} | {d['1m']['wall_ms_p50']} |",
        f"| database ms p50 | {d['1k']['db_ms_p50']} | {d['1m']['db_ms_p50']} |",
        f"| database ms p50 per run | {d['1k']['db_ms_runs']} | {d['1m']['db_ms_runs']} |",
        f"| queries | {d['1k']['queries_per_login']} | {d['1m']['queries_per_login']} |",
    ]
    return "\n".join(lines)


def fmt_manage(res: dict) -> str:
    lines = [
        "| office | filter | page | rows | queries SQLite | queries PG | in-process ms SQLite "
        "| in-process ms PG | HTTP ms SQLite | HTTP ms PG |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["table"]:
        lines.append(
            f"| {r['size']:,} | {r['filter']} | {r['page']} | {r['rows']} "
            f"| {r['sqlite_queries']} | {r['postgres_queries']} | {r['sqlite_inproc_ms']} "
            f"| {r['postgres_inproc_ms']} | {r['sqlite_http_ms']} | {r['postgres_http_ms']} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(TASKS[sys.argv[2]](json.loads(sys.argv[3])), default=str))
        return
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.splitlines()[:2]),
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--part", choices=["login", "manage", "all"], default="all")
    parser.add_argument("--runs", type=int, default=3, help="runs of every point (default 3)")
    parser.add_argument("--seconds", type=int, default=20, help="length of an HTTP login point")
    parser.add_argument("--clients", default="1,4", help="client counts of the login points")
    parser.add_argument("--warmup", type=int, default=5, help="unrecorded login seconds/server")
    parser.add_argument(
        "--dbtime-logins", type=int, default=150, help="in-process sign-ins per database and run"
    )
    parser.add_argument("--manage-reps", type=int, default=7, help="requests per page and run")
    parser.add_argument(
        "--large-users",
        type=int,
        default=1_000_000,
        help="users of the large login database (a smaller one for a quick try)",
    )
    parser.add_argument("--profile-clients", type=int, default=1, help="clients while profiling")
    parser.add_argument("--rev", default="HEAD", help="the Twostep commit to measure")
    parser.add_argument("--reuse", action="store_true", help="reuse kept, matching databases")
    parser.add_argument("--keep", action="store_true", help="keep the databases at the end")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the workers: a login point per database; Manage users pages",
    )
    args = parser.parse_args()
    if args.large_users != 1_000_000:
        rest = args.large_users - 11_025
        assert rest >= 10, "--large-users must be at least 11,035"
        LAYOUTS["1m"]["users"] = args.large_users
        LAYOUTS["1m"]["offices"] = (
            [25, 1_000, 10_000] + [rest // 10] * 9 + [rest - 9 * (rest // 10)]
        )
    started = time.monotonic()
    out_dir = BENCH / "out" / f"{time.strftime('%Y%m%d-%H%M%S')}-scale"
    out_dir.mkdir(parents=True)
    DATA.mkdir(parents=True, exist_ok=True)
    log(f"output in {out_dir}; load average {os.getloadavg()}")
    snap, commit = snapshot(out_dir, args.rev)
    log(f"Twostep at {commit}")
    load = LoadAverage()
    results: dict = {"twostep_commit": commit, "args": vars(args), "cpus": os.cpu_count()}
    parts = ["login", "manage"] if args.part == "all" else [args.part]
    try:
        if "login" in parts:
            t0 = time.time()
            results["login"] = part_login(args, snap, out_dir, load)
            results["login"]["load"] = load.since(t0)
            (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
        if "manage" in parts:
            t0 = time.time()
            results["manage"] = part_manage(args, snap, out_dir, load)
            results["manage"]["load"] = load.since(t0)
    finally:
        load.stop()
        if not args.keep:
            for lb in LAYOUTS:
                drop_database(LAYOUTS[lb]["db"])
            drop_database(sqlite_path("offices"))
            log("databases dropped")
    results["elapsed_s"] = round(time.monotonic() - started)
    results["load_overall"] = load.since(0)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    md = [
        f"# scale: Twostep {commit[:10]}, {results['elapsed_s']} s, load average (1-min) "
        f"{results['load_overall']}\n"
    ]
    if "login" in results:
        md += ["## Login, PostgreSQL\n", fmt_login(results["login"]), ""]
    if "manage" in results:
        md += ["## Manage users\n", fmt_manage(results["manage"]), ""]
    (out_dir / "summary.md").write_text("\n".join(md))
    print("\n".join(md))
    log(f"done in {results['elapsed_s']} s")


if __name__ == "__main__":
    main()
