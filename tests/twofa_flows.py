"""Helpers for test-client tests of enrolment, disable, Manage users and the helpdesk.

Plain functions (no fixtures), so that several test modules can share them without a
conftest of their own. Keys are read from the pages the user sees, never from the code
under test, except where a test compares both.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import struct
import subprocess
import zlib

from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD, FrozenClock, log_in_password

MANAGE = "/account/2fa/"
START = "/account/2fa/enable/"
SETUP = "/account/2fa/enable/key/"
CONFIRM = "/account/2fa/enable/code/"
DONE = "/account/2fa/enable/done/"
DISABLE = "/account/2fa/disable/"
MANAGE_USERS = "/administration/users/"

_KEY_ON_PAGE = re.compile(r'data-testid="twofa-key">([^<]*)<')
_QR_ON_PAGE = re.compile(r'data-testid="qr-code"[^>]*>\s*(<svg.*?</svg>)', re.S)


def sign_in(client: Client, email: str, password: str = PASSWORD) -> None:
    """Password-only sign-in of a user without 2FA; ends on the home page."""
    response = log_in_password(client, email, password)
    assert response.status_code == 302 and response.url == "/", response.content


def sign_in_with_code(client: Client, email: str, key: bytes, clock: FrozenClock) -> None:
    """Password, then the current code of ``key``; ends signed in."""
    response = log_in_password(client, email)
    assert response.status_code == 302 and response.url == "/login/code/", response.content
    response = client.post("/login/code/", {"code": clock.code(key)})
    assert response.status_code == 302 and response.url == "/", response.content


def sign_out(client: Client) -> None:
    assert client.post("/logout/").status_code == 302


def key_from_page(content: bytes) -> str:
    """The key as shown for typing (grouped), from the setup page."""
    match = _KEY_ON_PAGE.search(content.decode())
    assert match is not None, "no data-testid=twofa-key on the page"
    return html.unescape(match.group(1)).strip()


def decode_base32(shown: str) -> bytes:
    compact = shown.replace(" ", "")
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def shown_key(client: Client) -> bytes:
    """Open the setup page and decode the key printed on it."""
    response = client.get(SETUP)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return decode_base32(key_from_page(response.content))


def start(client: Client, **data: str) -> None:
    response = client.post(START, data)
    assert response.status_code == 302 and response.url == SETUP, (
        response.status_code,
        response.get("Location"),
    )


def enrol(client: Client, clock: FrozenClock, **start_data: str) -> bytes:
    """Start (or keep) the enrolment, read the key off the page, confirm with its code."""
    start(client, **start_data)
    key = shown_key(client)
    response = client.post(CONFIRM, {"code": clock.code(key)})
    assert response.status_code == 302 and response.url == DONE, response.content
    return key


def key_spellings(key: bytes) -> list[str]:
    """Every way a page or a row might carry the key: base32 (grouped, any case), hex, base64."""
    b32 = base64.b32encode(key).decode().rstrip("=")
    grouped = " ".join(b32[i : i + 4] for i in range(0, len(b32), 4))
    return [
        b32,
        b32.lower(),
        grouped,
        grouped.lower(),
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
    ]


def assert_no_key(text: str | bytes, key: bytes, where: str = "") -> None:
    if isinstance(text, bytes):
        assert key not in text, f"raw key bytes in {where}"
        text = text.decode("utf-8", errors="replace")
    text = html.unescape(text)
    for spelling in key_spellings(key):
        assert spelling not in text, f"key spelled {spelling!r} found in {where}"


def database_dump() -> str:
    """Every row of every table as text, sessions decoded: what a stolen backup shows."""
    parts: list[str] = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            parts.append(f"{model._meta.label} {row!r}")
    for session in Session.objects.all():
        parts.append(f"session {session.get_decoded()!r}")
    return "\n".join(parts)


# --- QR codes ---------------------------------------------------------------------------


def qr_svg_from_page(content: bytes) -> str:
    match = _QR_ON_PAGE.search(content.decode())
    assert match is not None, "no QR code SVG on the page"
    return match.group(1)


def qr_matrix_from_svg(svg: str) -> list[list[bool]]:
    """Read segno's inline SVG back into modules: one path of 'M/m' moves and 'h' runs."""
    size_match = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    path_match = re.search(r'class="qrline"[^>]*\bd="([^"]+)"', svg)
    assert size_match and path_match, svg[:200]
    width, height = int(size_match.group(1)), int(size_match.group(2))
    matrix = [[False] * width for _ in range(height)]
    x = y = 0.0
    for command, args in re.findall(r"([A-Za-z])([^A-Za-z]*)", path_match.group(1)):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            for column in range(round(x), round(x + numbers[0])):
                matrix[int(y)][column] = True
            x += numbers[0]
        else:  # pragma: no cover - segno's qrline path uses only these commands
            raise AssertionError(f"unexpected SVG path command {command!r}")
    return matrix


def _png(matrix: list[list[bool]], scale: int = 4) -> bytes:
    rows = []
    for row in matrix:
        line = b"\x00" + bytes(0 if dark else 255 for dark in row for _ in range(scale))
        rows.extend([line] * scale)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    width, height = len(matrix[0]) * scale, len(matrix) * scale
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def decode_qr_matrix(matrix: list[list[bool]]) -> str | None:
    """Decode with zbarimg when installed; None when no decoder is available."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        return None
    done = subprocess.run(
        [zbarimg, "--raw", "-q", "-"], input=_png(matrix), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8").rstrip("\n")


def rendered_qr_matches(content: bytes, uri: str) -> None:
    """The page's QR code holds exactly ``uri``: same modules as a fresh encoding of it,
    and (with zbarimg installed) a real decoder reads ``uri`` back byte for byte."""
    import segno

    matrix = qr_matrix_from_svg(qr_svg_from_page(content))
    expected = segno.make(uri, error="m", micro=False, boost_error=False)
    border = 4
    reference = [[bool(v) for v in row] for row in expected.matrix_iter(scale=1, border=border)]
    assert matrix == reference
    decoded = decode_qr_matrix(matrix)
    if decoded is not None:
        assert decoded == uri
