"""Issue 5 section 1 / S50, S51: recovery codes shown once, stored hashed, single use,
counted under the guessing limits, told by email, destroyed with 2FA."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, SEED20, FrozenClock, log_in_password
from twostep import recovery_codes
from twostep.accounts.models import User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.http import Client as RequestClient
from twostep.twofactor.models import CodeFailure, PendingEnrolment, RecoveryCode, TwoFactorDevice
from twostep.twofactor.recovery import replace_codes
from twostep.twofactor.removal import helpdesk_reset
from twostep.twofactor.storage import unseal

CODE_RE = re.compile(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>")


def test_s50_codes_have_80_bits_and_read_aloud_format() -> None:
    codes = recovery_codes.new_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}", code)
    assert len(recovery_codes.ALPHABET) ** recovery_codes.LENGTH == 2**80


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh-jkmn-pqrs", "ABCD EFGH JKMN PQRS", " abcdefghjkmnpqrs\n", "abcd–efgh–jkmn–pqrs"],
)
def test_typed_forms_of_one_code_are_the_same(typed: str) -> None:
    assert recovery_codes.normalise(typed) == "abcdefghjkmnpqrs"


def test_easily_confused_letters_are_read_as_digits() -> None:
    assert recovery_codes.normalise("oo11-ilab-cdef-ghjk") == recovery_codes.normalise(
        "0011-11ab-cdef-ghjk"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abcd-efgh-jkmn-pqr",
        "abcd-efgh-jkmn-pqrsu",
        "ａｂｃｄ" * 4,
        "abcd-efgh-jkmn-pqr!",
        "\x00" * 16,
        "a" * 10000,
    ],
)
def test_anything_else_is_not_a_recovery_code(typed: str) -> None:
    assert recovery_codes.normalise(typed) is None


def test_s51_codes_are_stored_as_salted_argon2id_hashes() -> None:
    """S51 (NIST 800-63B-4 §3.1.2.2): under 112 bits, a look-up secret is stored with a
    password-hashing scheme: Argon2id, a random salt per code, a cost factor."""
    code = recovery_codes.new_codes(1)[0]
    first, second = recovery_codes.hash_for_storage(code), recovery_codes.hash_for_storage(code)
    assert first.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert first != second  # each hash has its own salt
    canonical = recovery_codes.normalise(code)
    assert canonical is not None and canonical not in first
    assert recovery_codes.matches(canonical, first) and recovery_codes.matches(canonical, second)
    other = recovery_codes.normalise(recovery_codes.new_codes(1)[0])
    assert other is not None and not recovery_codes.matches(other, first)
    assert not recovery_codes.matches(canonical, "$argon2id$v=19$garbage")
    assert not recovery_codes.matches(canonical, "")


def test_codes_stored_before_argon2_still_work_and_only_with_their_salt() -> None:
    code = recovery_codes.new_codes(1)[0]
    canonical = recovery_codes.normalise(code)
    assert canonical is not None
    a, b = recovery_codes.new_salt(), recovery_codes.new_salt()
    legacy = recovery_codes.digest(code, a)
    assert legacy == recovery_codes.digest(code.upper(), a) != recovery_codes.digest(code, b)
    assert recovery_codes.matches(canonical, legacy, a)
    assert not recovery_codes.matches(canonical, legacy, b)
    assert not recovery_codes.matches(canonical, legacy, "")


def test_a_legacy_hmac_code_signs_in_once(
    pending_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """Codes made before the move to Argon2 keep working: no user loses their codes."""
    code = recovery_codes.new_codes(1)[0]
    salt = recovery_codes.new_salt()
    RecoveryCode.objects.create(
        user=alice_with_totp,
        salt=salt,
        digest=recovery_codes.digest(code, salt),
        created_at=frozen_clock.now,
    )
    response = pending_client.post("/login/recovery/", {"code": code})
    assert response.status_code == 302 and response.url == "/"
    assert RecoveryCode.objects.get(user=alice_with_totp).used_at == frozen_clock.now


@pytest.fixture
def enrolled(client: Client, alice: User, frozen_clock: FrozenClock) -> tuple[Client, list[str]]:
    """Alice enables 2FA through the pages; returns her client and the codes shown."""
    client.force_login(alice)
    client.post("/account/2fa/enable/")
    key = unseal(alice.pk, PendingEnrolment.objects.get(user=alice).encrypted_key)
    response = client.post(
        "/account/2fa/enable/code/", {"code": frozen_clock.code(key)}, follow=True
    )
    codes = CODE_RE.findall(response.content.decode())
    return client, codes


def test_codes_are_shown_once_when_2fa_is_enabled(
    enrolled: tuple[Client, list[str]], alice: User
) -> None:
    client, codes = enrolled
    assert len(codes) == 10
    assert client.get("/account/2fa/enable/done/").status_code == 302  # never again
    page = client.get("/account/2fa/").content.decode()
    assert "Recovery codes left: <strong>10</strong>" in page
    assert not any(c in page for c in codes)
    stored = " ".join(RecoveryCode.objects.values_list("digest", flat=True))
    assert not any(c.replace("-", "") in stored or c in stored for c in codes)
    assert "twostep_new_recovery_codes" not in client.session


def test_s51_a_code_signs_in_once(
    enrolled: tuple[Client, list[str]], alice: User, frozen_clock: FrozenClock
) -> None:
    _, codes = enrolled
    frozen_clock.advance(60)
    first = Client()
    log_in_password(first, alice.email)
    response = first.post("/login/recovery/", {"code": codes[3].upper()})
    assert response.status_code == 302 and response.url == "/"
    assert first.get("/").status_code == 200
    assert (
        SecurityEvent.objects.filter(kind=EventKind.RECOVERY_CODE_USED, subject=alice).count() == 1
    )
    assert "A recovery code was used to sign in" in mail.outbox[-1].subject
    assert codes[3] not in mail.outbox[-1].body
    event = SecurityEvent.objects.get(kind=EventKind.RECOVERY_CODE_USED, subject=alice)
    assert event.reason == "to sign in; 9 left"

    frozen_clock.advance(10)
    second = Client()
    log_in_password(second, alice.email)
    again = second.post("/login/recovery/", {"code": codes[3]})
    page = again.content.decode()
    # Told about recovery codes, not sent to the authenticator app the user may have lost.
    assert again.status_code == 200 and "That recovery code is not right, or it was" in page
    assert "already used: each one works once" in page and "authenticator app" not in page
    assert "_auth_user_id" not in second.session
    assert "left: <strong>9</strong>" in first.get("/account/2fa/").content.decode()


def test_s51_wrong_recovery_codes_count_under_the_limits(
    enrolled: tuple[Client, list[str]], alice: User, frozen_clock: FrozenClock
) -> None:
    frozen_clock.advance(60)
    c = Client()
    log_in_password(c, alice.email)
    for typed in ("0000-0000-0000-0000", "not a code"):
        response = c.post("/login/recovery/", {"code": typed})
        assert response.status_code == 200
        frozen_clock.advance(5)
    assert CodeFailure.objects.filter(user=alice).count() == 2
    assert b"16 letters and digits" in response.content


def test_recovery_page_needs_the_password_step(
    client: Client, enrolled: tuple[Client, list[str]]
) -> None:
    _, codes = enrolled
    response = Client().post("/login/recovery/", {"code": codes[0]})
    assert response.status_code == 302 and response.url == "/login/"


def test_new_set_needs_the_password_and_kills_the_old_set(
    enrolled: tuple[Client, list[str]], alice: User, frozen_clock: FrozenClock
) -> None:
    client, old = enrolled
    url = "/account/2fa/recovery-codes/"
    refused = client.post(url, {"password": "not it", "code": old[1]}, follow=True)
    assert b"That password is not right" in refused.content
    frozen_clock.advance(5)
    refused = client.post(url, {"password": PASSWORD, "code": "nonsense"}, follow=True)
    assert b"Enter the 6-digit code using the digits 0-9." in refused.content
    assert set(RecoveryCode.objects.filter(user=alice).values_list("digest", flat=True))
    frozen_clock.advance(5)
    page = client.post(url, {"password": PASSWORD, "code": old[1]}, follow=True)
    new = CODE_RE.findall(page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert client.get("/account/2fa/recovery-codes/new/").status_code == 302  # shown once
    frozen_clock.advance(60)
    c = Client()
    log_in_password(c, alice.email)
    assert c.post("/login/recovery/", {"code": old[0]}).status_code == 200
    frozen_clock.advance(5)
    assert c.post("/login/recovery/", {"code": new[0]}).status_code == 302


def test_disable_and_helpdesk_reset_destroy_the_codes(
    alice_with_totp: User, verified_client: Client, frozen_clock: FrozenClock
) -> None:
    replace_codes(alice_with_totp)
    helpdesk_reset(None, alice_with_totp, "TICKET-9", RequestClient("", "cli"))
    assert not RecoveryCode.objects.filter(user=alice_with_totp).exists()
    from tests.conftest import enable_two_factor

    enable_two_factor(alice_with_totp, SEED20)
    replace_codes(alice_with_totp)
    c = Client()
    log_in_password(c, alice_with_totp.email)
    c.post("/login/code/", {"code": frozen_clock.code(SEED20, 1)})
    frozen_clock.advance(60)
    c.post("/account/2fa/disable/", {"password": PASSWORD, "code": frozen_clock.code(SEED20)})
    assert not TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert not RecoveryCode.objects.filter(user=alice_with_totp).exists()
