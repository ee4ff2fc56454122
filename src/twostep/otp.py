"""Pure TOTP (RFC 6238) logic: keys, key URIs, typed-code normalisation, verification.

This module imports nothing from Django and never reads the clock: callers pass
``now`` (Unix seconds, server time, UTC). The HMAC arithmetic is cryptography's
HOTP implementation; this module adds the product's policy around it.
"""

from __future__ import annotations

import base64
import enum
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.hazmat.primitives.hashes import SHA1, SHA256, SHA512
from cryptography.hazmat.primitives.twofactor.hotp import HOTP

STEP_SECONDS = 30
DIGITS = 6
KEY_BYTES = 20
WINDOW_STEPS = 1
MAX_RAW_CODE_LENGTH = 64
_HASHES: dict[str, type[SHA1] | type[SHA256] | type[SHA512]] = {
    "SHA1": SHA1,
    "SHA256": SHA256,
    "SHA512": SHA512,
}
# Typed separators removed before checking: spaces (incl. no-break, thin and ideographic
# spaces, tabs and line ends) and the hyphens/dashes a phone keyboard may insert. Any other
# character, control characters included, makes the input invalid.
_SEPARATORS = frozenset(" \t\r\n\u00a0\u2007\u2009\u202f\u3000-\u2010\u2011\u2012\u2013\u2212")


def new_key() -> bytes:
    """A fresh 160-bit key from the operating system's CSPRNG (RFC 4226 R6)."""
    return secrets.token_bytes(KEY_BYTES)


def key_to_base32(key: bytes) -> str:
    """Upper-case base32 without '=' padding, as authenticator apps expect."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def group_for_typing(base32_key: str, size: int = 4) -> str:
    """'ABCD EFGH ...' so that a person can type the key without losing their place."""
    return " ".join(base32_key[i : i + size] for i in range(0, len(base32_key), size))


def check_label_part(value: str, what: str) -> None:
    """Google's Key Uri Format forbids a colon inside the issuer or the account name."""
    if ":" in value or not value.strip():
        raise ValueError(f"The {what} must be non-empty and must not contain ':'.")


def key_uri(key: bytes, account: str, issuer: str) -> str:
    """The otpauth:// URI per Google's Key Uri Format.

    Label ``ISSUER:account`` percent-encoded as UTF-8 (spaces as %20, never '+'),
    ``issuer`` parameter equal to the label prefix; SHA1/6/30 are the defaults
    and are left out to keep the QR code small.
    """
    check_label_part(issuer, "issuer")
    account = account.replace(":", "")
    check_label_part(account, "account name")
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    return f"otpauth://totp/{label}?secret={key_to_base32(key)}&issuer={quote(issuer, safe='')}"


def time_step(now: float, step_seconds: int = STEP_SECONDS) -> int:
    """T = floor((now - T0) / X) with T0 = 0 (RFC 6238 section 4.2)."""
    return int(now // step_seconds)


def code_at_step(key: bytes, step: int, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """The zero-padded code for one time step (a string, never an integer)."""
    hotp = HOTP(key, digits, _HASHES[algorithm](), enforce_key_length=False)
    return hotp.generate(step).decode("ascii")


class CodeProblem(enum.Enum):
    """Why a typed code was refused before any comparison."""

    EMPTY = "empty"
    NOT_ASCII_DIGITS = "not_ascii_digits"
    WRONG_LENGTH = "wrong_length"


@dataclass(frozen=True)
class NormalisedCode:
    digits: str | None
    problem: CodeProblem | None


def normalise_code(raw: str, digits: int = DIGITS) -> NormalisedCode:
    """Read a typed code: remove spaces and dashes, then require exactly ``digits`` ASCII digits.

    The one policy for other input: digits of other scripts (full-width, Arabic-Indic...)
    are refused with "use the digits 0-9", not converted, so that what is accepted is
    exactly what the authenticator shows. Leading zeros are kept.
    """
    if len(raw) > MAX_RAW_CODE_LENGTH:
        return NormalisedCode(None, CodeProblem.WRONG_LENGTH)
    kept = "".join(ch for ch in raw if ch not in _SEPARATORS)
    if not kept:
        return NormalisedCode(None, CodeProblem.EMPTY)
    if not all("0" <= ch <= "9" for ch in kept):
        return NormalisedCode(None, CodeProblem.NOT_ASCII_DIGITS)
    if len(kept) != digits:
        return NormalisedCode(None, CodeProblem.WRONG_LENGTH)
    return NormalisedCode(kept, None)


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    step: int | None = None


def verify(
    key: bytes,
    code: str,
    now: float,
    last_used_step: int | None,
    window: int = WINDOW_STEPS,
    refused_steps: frozenset[int] = frozenset(),
) -> Verification:
    """Check a normalised code against the steps now-window .. now+window.

    Every candidate is computed and compared in constant time (no early exit).
    A code matching a step at or before ``last_used_step`` is REPLAYED; the
    caller must still record the accepted step atomically (see twofactor.verification).
    A step in ``refused_steps`` is treated as used (a future code shown in a clock hint).
    """
    current = time_step(now)
    matched: list[int] = []
    for step in range(max(0, current - window), current + window + 1):
        if hmac.compare_digest(code_at_step(key, step).encode(), code.encode()):
            matched.append(step)
    if not matched:
        return Verification(Verdict.WRONG)
    fresh = [
        s
        for s in matched
        if (last_used_step is None or s > last_used_step) and s not in refused_steps
    ]
    if not fresh:
        return Verification(Verdict.REPLAYED, max(matched))
    return Verification(Verdict.ACCEPTED, max(fresh))


CLOCK_HINT_FURTHEST = 10


def clock_offset(key: bytes, code: str, now: float, window: int = WINDOW_STEPS) -> int | None:
    """For a refused code: the offset in steps (2..10, or -2..-10) at which it would have
    been right, nearest first, so the user can be told that the phone's clock is off.

    Only a hint: the code stays refused. Every candidate is computed and compared.
    """
    current = time_step(now)
    found: list[int] = []
    for offset in range(-CLOCK_HINT_FURTHEST, CLOCK_HINT_FURTHEST + 1):
        step = current + offset
        if abs(offset) <= window or step < 0:
            continue
        if hmac.compare_digest(code_at_step(key, step).encode(), code.encode()):
            found.append(offset)
    return min(found, key=abs) if found else None
