"""Pure unit tests for the AES-GCM key ring that encrypts TOTP keys at rest (S21, S25).

No database: the rings are built from specs generated in the tests, and the authenticated
data is built the way ``twostep.twofactor.storage.context_for`` builds it.
"""

from __future__ import annotations

import base64
import binascii

import pytest

from twostep import otp
from twostep.twofactor.keyring import KeyRing, KeyRingError
from twostep.twofactor.storage import context_for

SEED20 = b"12345678901234567890"
NONCE_BYTES = 12
TAG_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
ENTRY_A = f"a:{_b64(KEY_A)}"
ENTRY_B = f"b:{_b64(KEY_B)}"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.parse(KeyRing.generate_entry("k1"))


def _blob(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.partition("$")[2])


# ---------------------------------------------------------------------------------------
# Parsing the ring (S21: the key lives in settings, validated at startup)
# ---------------------------------------------------------------------------------------


def test_s21_parse_two_entries_first_one_is_primary() -> None:
    """S21: 'id:base64key,id:base64key' gives both 32-byte keys in order; the first encrypts."""
    ring = KeyRing.parse(f" {ENTRY_A} , {ENTRY_B} ,")
    assert ring.keys == (("a", KEY_A), ("b", KEY_B))
    assert ring.primary_id == "a"


def test_s21_generate_entry_parses_to_a_fresh_32_byte_key() -> None:
    """S21: generate_entry gives 'id:base64' of a random AES-256 key, different each time."""
    first, second = KeyRing.generate_entry("k1"), KeyRing.generate_entry("k1")
    assert first.startswith("k1:") and first != second
    ((key_id, raw),) = KeyRing.parse(first).keys
    assert key_id == "k1" and len(raw) == 32


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(" , ,", id="only-commas"),
        pytest.param(f"a{_b64(KEY_A)}", id="missing-colon"),
        pytest.param(f"a={_b64(KEY_A)}", id="equals-instead-of-colon"),
        pytest.param(f":{_b64(KEY_A)}", id="empty-id"),
        pytest.param(f"k-1:{_b64(KEY_A)}", id="id-not-alphanumeric"),
        pytest.param(f"k$1:{_b64(KEY_A)}", id="id-with-token-separator"),
        pytest.param("a:abc", id="bad-base64-padding"),
        pytest.param("a:ключ", id="non-ascii-base64"),
        pytest.param("a:", id="empty-key"),
        pytest.param(f"a:{_b64(bytes(16))}", id="16-byte-key"),
        pytest.param(f"a:{_b64(bytes(31))}", id="31-byte-key"),
        pytest.param(f"a:{_b64(bytes(33))}", id="33-byte-key"),
        pytest.param(f"{ENTRY_A},a:{_b64(KEY_B)}", id="duplicate-id"),
        pytest.param(f"{ENTRY_A},{ENTRY_B},{ENTRY_A}", id="duplicate-id-later"),
        pytest.param(f"{ENTRY_A},b", id="second-entry-missing-colon"),
    ],
)
def test_s21_malformed_ring_raises_key_ring_error(spec: str) -> None:
    """S21: every malformed ring spec is a KeyRingError (which the startup check reports)."""
    with pytest.raises(KeyRingError):
        KeyRing.parse(spec)


def test_s21_key_ring_error_is_a_value_error() -> None:
    """S21: KeyRingError is a ValueError, so generic configuration handling also catches it."""
    assert issubclass(KeyRingError, ValueError)


def test_s22_error_messages_do_not_echo_key_material() -> None:
    """S22: a wrong-length key is reported by id, without the key material itself."""
    encoded = _b64(bytes(range(16)))
    with pytest.raises(KeyRingError) as info:
        KeyRing.parse(f"a:{encoded}")
    assert encoded not in str(info.value)
    assert "'a'" in str(info.value)


# ---------------------------------------------------------------------------------------
# Encrypt / decrypt (S21)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [SEED20, b"", bytes(64)])
def test_s21_encrypt_decrypt_round_trip(ring: KeyRing, plaintext: bytes) -> None:
    """S21: decrypt(encrypt(key)) gives the key back under the same context."""
    token = ring.encrypt(plaintext, context_for(7))
    assert ring.decrypt(token, context_for(7)) == plaintext


def test_s21_round_trip_of_generated_keys(ring: KeyRing) -> None:
    """S21: 50 generated TOTP keys all round-trip."""
    for user_id in range(50):
        key = otp.new_key()
        assert ring.decrypt(ring.encrypt(key, context_for(user_id)), context_for(user_id)) == key


def test_s21_token_format_id_dollar_nonce_ciphertext_tag(ring: KeyRing) -> None:
    """S21: token = '<primary id>$' + urlsafe base64 of 12-byte nonce, ciphertext, 16-byte tag."""
    token = ring.encrypt(SEED20, context_for(1))
    key_id, sep, encoded = token.partition("$")
    assert (key_id, sep) == ("k1", "$")
    assert len(_blob(token)) == NONCE_BYTES + len(SEED20) + TAG_BYTES
    assert encoded.isascii()


@pytest.mark.parametrize(
    ("sealed_for", "opened_for"),
    [(context_for(1), context_for(2)), (context_for(2), context_for(12)), (b"a", b"")],
)
def test_s21_other_context_fails(ring: KeyRing, sealed_for: bytes, opened_for: bytes) -> None:
    """S21: a ciphertext copied onto another user's row (other user id as authenticated data)
    does not decrypt: KeyRingError, not the key."""
    token = ring.encrypt(SEED20, sealed_for)
    with pytest.raises(KeyRingError):
        ring.decrypt(token, opened_for)


def test_s21_context_differs_per_user() -> None:
    """S21: the authenticated data names the user id, so users 1 and 11 differ."""
    assert context_for(1) != context_for(11)
    assert context_for(1).endswith(b":1") and context_for(11).endswith(b":11")


def test_s21_two_encryptions_of_same_key_differ(ring: KeyRing) -> None:
    """S21: random nonce: the same key sealed twice gives two different tokens (and nonces),
    both of which decrypt."""
    tokens = {ring.encrypt(SEED20, context_for(1)) for _ in range(20)}
    assert len(tokens) == 20
    assert len({_blob(token)[:NONCE_BYTES] for token in tokens}) == 20
    for token in tokens:
        assert ring.decrypt(token, context_for(1)) == SEED20


@pytest.mark.parametrize("key", [SEED20, bytes(range(20)), b"\xff" * 20])
def test_s21_ciphertext_does_not_contain_the_key_in_any_encoding(ring: KeyRing, key: bytes) -> None:
    """S21/C20: the token (and its decoded bytes) contains neither the raw key nor its
    base32, hex or base64 forms."""
    token = ring.encrypt(key, context_for(1))
    blob = _blob(token)
    assert key not in blob
    forms = {
        otp.key_to_base32(key),
        otp.key_to_base32(key).lower(),
        binascii.hexlify(key).decode(),
        binascii.hexlify(key).decode().upper(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
    }
    for form in forms:
        assert form not in token
    if key.isascii():
        assert key.decode() not in token


def test_s21_tampered_ciphertext_fails(ring: KeyRing) -> None:
    """S21: flipping any bit of nonce, ciphertext or tag makes decryption fail."""
    token = ring.encrypt(SEED20, context_for(1))
    blob = _blob(token)
    for index in (0, NONCE_BYTES, NONCE_BYTES + 5, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        forged = f"k1${_b64(bytes(tampered))}"
        with pytest.raises(KeyRingError):
            ring.decrypt(forged, context_for(1))


def test_s21_token_relabelled_with_other_key_id_fails() -> None:
    """S21: a token sealed with key a but labelled 'b$' fails authentication under key b."""
    ring = KeyRing.parse(f"{ENTRY_A},{ENTRY_B}")
    token = ring.encrypt(SEED20, context_for(1))
    assert token.startswith("a$")
    with pytest.raises(KeyRingError):
        ring.decrypt("b$" + token.partition("$")[2], context_for(1))


@pytest.mark.parametrize("token_id", ["zz", "", "A", "a "])
def test_s21_unknown_key_id_raises(token_id: str) -> None:
    """S21: a token naming a key id that is not in the ring is a KeyRingError."""
    ring = KeyRing.parse(ENTRY_A)
    body = ring.encrypt(SEED20, context_for(1)).partition("$")[2]
    with pytest.raises(KeyRingError, match="No key"):
        ring.decrypt(f"{token_id}${body}", context_for(1))


def test_s21_token_without_separator_raises(ring: KeyRing) -> None:
    """S21: a value without '$' (e.g. a plain base32 key stored by mistake) is refused."""
    with pytest.raises(KeyRingError):
        ring.decrypt(otp.key_to_base32(SEED20), context_for(1))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("abc", id="bad-base64-padding"),
        pytest.param("", id="empty-body"),
        pytest.param("AAAA", id="shorter-than-nonce"),
        pytest.param("é", id="non-ascii"),
    ],
)
def test_s21_corrupted_token_raises_key_ring_error(ring: KeyRing, body: str) -> None:
    """S21: a corrupted stored token (truncated, bad base64, non-ASCII) fails like a tampered
    one, with KeyRingError, not binascii/Unicode/nonce-length errors from the libraries."""
    with pytest.raises(KeyRingError):
        ring.decrypt(f"k1${body}", context_for(1))


# ---------------------------------------------------------------------------------------
# Rotation (S21: the encryption key rotates; S25 keeps working tokens)
# ---------------------------------------------------------------------------------------


def test_s21_rotation_old_token_decrypts_needs_rotation_and_rotates() -> None:
    """S21: a token from the old key still decrypts when that key is second in the ring,
    needs_rotation is True for it, and rotate() re-encrypts it with the first key."""
    old_ring = KeyRing.parse(ENTRY_A)
    old_token = old_ring.encrypt(SEED20, context_for(5))
    assert not old_ring.needs_rotation(old_token)

    new_ring = KeyRing.parse(f"{ENTRY_B},{ENTRY_A}")
    assert new_ring.primary_id == "b"
    assert new_ring.decrypt(old_token, context_for(5)) == SEED20
    assert new_ring.needs_rotation(old_token) is True

    rotated = new_ring.rotate(old_token, context_for(5))
    assert rotated.startswith("b$")
    assert new_ring.needs_rotation(rotated) is False
    assert new_ring.decrypt(rotated, context_for(5)) == SEED20
    # Once every token is rotated the old key can leave the ring.
    only_new = KeyRing.parse(ENTRY_B)
    assert only_new.decrypt(rotated, context_for(5)) == SEED20
    with pytest.raises(KeyRingError):
        only_new.decrypt(old_token, context_for(5))
    # And the rotated token is not readable with the old key alone.
    with pytest.raises(KeyRingError):
        old_ring.decrypt(rotated, context_for(5))


def test_s21_rotate_keeps_the_context_binding() -> None:
    """S21: rotate() with another user's context fails instead of re-sealing the key for them."""
    old_token = KeyRing.parse(ENTRY_A).encrypt(SEED20, context_for(5))
    new_ring = KeyRing.parse(f"{ENTRY_B},{ENTRY_A}")
    with pytest.raises(KeyRingError):
        new_ring.rotate(old_token, context_for(6))
    rotated = new_ring.rotate(old_token, context_for(5))
    with pytest.raises(KeyRingError):
        new_ring.decrypt(rotated, context_for(6))


def test_s21_rotate_of_current_token_gives_fresh_ciphertext() -> None:
    """S21: rotating a token already under the primary key still gives a new nonce."""
    ring = KeyRing.parse(f"{ENTRY_A},{ENTRY_B}")
    token = ring.encrypt(SEED20, context_for(1))
    rotated = ring.rotate(token, context_for(1))
    assert rotated != token and rotated.startswith("a$")
    assert ring.decrypt(rotated, context_for(1)) == SEED20
