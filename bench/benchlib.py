"""Shared by the harness, the load generator and both seed scripts (standard library only).

Every benchmark user has a TOTP key derived from its email, so the client can compute codes
without asking either server: the client is not the product.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time

PASSWORD = "bench correct horse battery staple"
OFFICE = "Bench Office"
ADMIN_EMAIL = "admin@bench.example"

# User ranges (same emails in both products). Login and code-step pools are disjoint so that
# no scenario replays a code another one used in the same 30-second step.
LOGIN_POOL = 4000  # bench0 .. bench3999: 2FA on, full logins
CODE_POOL = 1500  # code0 .. : 2FA on, the code step alone
REPLAY_POOL = 200  # replay0 .. : 2FA on, one fresh user per replay trial
ENROL_POOL = 1500  # enrol0 .. : 2FA off, enrolment (Twostep only)
OFFICE_SIZE = 10_000  # the office is filled up to this many users with filler users


def login_email(i: int) -> str:
    return f"bench{i}@bench.example"


def code_email(i: int) -> str:
    return f"code{i}@bench.example"


def replay_email(i: int) -> str:
    return f"replay{i}@bench.example"


def enrol_email(i: int) -> str:
    return f"enrol{i}@bench.example"


def twofa_emails() -> list[str]:
    return (
        [login_email(i) for i in range(LOGIN_POOL)]
        + [code_email(i) for i in range(CODE_POOL)]
        + [replay_email(i) for i in range(REPLAY_POOL)]
    )


def key_for(email: str) -> bytes:
    """The user's 20-byte TOTP key, known to the client."""
    return hmac.new(b"twostep-bench-key", email.encode(), hashlib.sha1).digest()


def totp_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 30)


def totp(key: bytes, step: int) -> str:
    """RFC 6238 with SHA-1, 6 digits, 30-second steps."""
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"
