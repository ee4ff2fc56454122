"""Pure unit tests for ``twostep.otp`` (no database, no clock, no test client).

Reference values come from /work/shared/standards.md Part A (RFC 4226 Appendix D,
RFC 6238 Appendix B and the derived 6-digit values of A3); each test names the
checklist item (S..) or case (C..) it covers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from urllib.parse import parse_qs, quote, unquote, unquote_to_bytes, urlsplit

import pytest

from twostep import otp
from twostep.otp import CodeProblem, Verdict

SEED20 = b"12345678901234567890"
SEED32 = b"12345678901234567890123456789012"
SEED64 = b"1234567890123456789012345678901234567890123456789012345678901234"
SEED20_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

# t = 1111111111 (T = 37037037): the window neighbours of standards.md A3.
T_WINDOW = 1111111111
STEP_WINDOW = 37037037
WINDOW_CODES = {-2: "731029", -1: "081804", 0: "050471", 1: "266759", 2: "306183"}


# ---------------------------------------------------------------------------------------
# S01 / S02 / S03 / S04 / S05: the HMAC arithmetic and time steps
# ---------------------------------------------------------------------------------------

RFC4226_HOTP = [
    (0, "755224"),
    (1, "287082"),
    (2, "359152"),
    (3, "969429"),
    (4, "338314"),
    (5, "254676"),
    (6, "287922"),
    (7, "162583"),
    (8, "399871"),
    (9, "520489"),
]


@pytest.mark.parametrize(("counter", "expected"), RFC4226_HOTP)
def test_s01_hotp_matches_rfc4226_appendix_d(counter: int, expected: str) -> None:
    """S01: HOTP(SEED20, counter) for counters 0..9 is the RFC 4226 Appendix D column."""
    assert otp.code_at_step(SEED20, counter) == expected


@pytest.mark.parametrize(
    ("counter", "hmac_hex", "truncated"),
    [
        (0, "cc93cf18508d94934c64b65d8ba7667fb7cde4b0", 1284755224),
        (2, "0bacb7fa082fef30782211938bc1c5e70416ff44", 137359152),
        (7, "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa", 82162583),
        (9, "1637409809a679dc698207310c8c7fc07290d9e5", 645520489),
    ],
)
def test_s01_code_is_truncated_hmac_mod_10_to_the_6(
    counter: int, hmac_hex: str, truncated: int
) -> None:
    """S01: the code equals the RFC's truncated decimal mod 10^6, zero-padded (rows 2/7
    have a leading zero in the truncated hex, which is the case the RFC prints short)."""
    mac = hmac.new(SEED20, counter.to_bytes(8, "big"), "sha1").digest()
    assert binascii.hexlify(mac).decode() == hmac_hex
    assert otp.code_at_step(SEED20, counter) == f"{truncated % 10**6:06d}"
    assert otp.code_at_step(SEED20, counter, digits=8) == f"{truncated % 10**8:08d}"


RFC6238_TABLE = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC6238_ROWS = [
    pytest.param(t, algorithm, seed, expected, id=f"{algorithm}-{t}")
    for t, sha1, sha256, sha512 in RFC6238_TABLE
    for algorithm, seed, expected in (
        ("SHA1", SEED20, sha1),
        ("SHA256", SEED32, sha256),
        ("SHA512", SEED64, sha512),
    )
]


@pytest.mark.parametrize(("t", "algorithm", "seed", "expected"), RFC6238_ROWS)
def test_s04_rfc6238_appendix_b_all_18_rows_eight_digits(
    t: int, algorithm: str, seed: bytes, expected: str
) -> None:
    """S04/S02: all 18 rows of RFC 6238 Appendix B in 8-digit mode, with the per-hash seeds
    (SHA256/SHA512 rows pass only if truncation uses the low nibble of the LAST byte)."""
    assert len(RFC6238_ROWS) == 18
    assert otp.code_at_step(seed, otp.time_step(t), digits=8, algorithm=algorithm) == expected


def test_s02_sha256_seed_erratum_20_byte_seed_gives_other_value() -> None:
    """S02/A2 gotcha: with the 20-byte seed SHA256 at t=59 is 32247374, not 46119246."""
    assert otp.code_at_step(SEED20, 1, digits=8, algorithm="SHA256") == "32247374"
    assert otp.code_at_step(SEED32, 1, digits=8, algorithm="SHA256") == "46119246"


@pytest.mark.parametrize(
    ("t", "step", "code"),
    [
        (0, 0, "755224"),
        (29, 0, "755224"),
        (30, 1, "287082"),
        (59, 1, "287082"),
        (60, 2, "359152"),
        (89, 2, "359152"),
        (1111111109, 37037036, "081804"),
        (1111111111, 37037037, "050471"),
        (1234567890, 41152263, "005924"),
        (2000000000, 66666666, "279037"),
        (20000000000, 666666666, "353130"),
    ],
)
def test_s03_a3_table_time_step_and_six_digit_code(t: int, step: int, code: str) -> None:
    """S03: T = floor(t / 30) with T0 = 0, and the derived 6-digit code of table A3
    (includes the boundaries t=29/30/59/60)."""
    assert otp.time_step(t) == step
    assert otp.code_at_step(SEED20, otp.time_step(t)) == code


@pytest.mark.parametrize(
    ("now", "step"), [(29.999, 0), (30.0, 1), (59.5, 1), (60.0, 2), (1111111111.9, 37037037)]
)
def test_s03_time_step_floors_fractional_seconds(now: float, step: int) -> None:
    """S03: fractional server times floor to the step they are in (never round up)."""
    assert otp.time_step(now) == step


@pytest.mark.parametrize(
    ("now", "code", "step"),
    [
        (30, "287082", 1),
        (59, "287082", 1),
        (60, "359152", 2),
        (60, "287082", 1),
    ],
)
def test_s03_verify_at_step_boundaries(now: int, code: str, step: int) -> None:
    """S03: verify uses floor(t/30) on either side of a boundary (±1 window)."""
    assert otp.verify(SEED20, code, now, None) == otp.Verification(Verdict.ACCEPTED, step)


@pytest.mark.parametrize(
    ("now", "code", "step"), [(0, "755224", 0), (29, "755224", 0), (29, "287082", 1)]
)
def test_s03_verify_in_first_step_of_epoch_does_not_crash(now: int, code: str, step: int) -> None:
    """S03: at t=0..29 (T=0) the codes of steps 0 and +1 are accepted; step -1 of the window
    does not exist and must be skipped instead of raising."""
    assert otp.verify(SEED20, code, now, None) == otp.Verification(Verdict.ACCEPTED, step)


def test_s05_time_beyond_2038_and_32_bit_counters() -> None:
    """S05: t=20000000000 (T beyond 32-bit seconds) → 65353130 / 353130; t=2000000000 → 279037."""
    assert otp.time_step(20000000000) == 666666666
    assert otp.code_at_step(SEED20, otp.time_step(20000000000), digits=8) == "65353130"
    assert otp.code_at_step(SEED20, otp.time_step(20000000000)) == "353130"
    assert otp.code_at_step(SEED20, otp.time_step(2000000000)) == "279037"
    assert otp.verify(SEED20, "353130", 20000000000, None) == otp.Verification(
        Verdict.ACCEPTED, 666666666
    )
    # A counter above 2**32 is packed as unsigned 64-bit (no overflow, no wrap-around).
    big = 2**32 + 5
    assert otp.code_at_step(SEED20, big) != otp.code_at_step(SEED20, 5)


def test_s07_production_parameters_are_sha1_6_digits_30_seconds_window_1() -> None:
    """S07: SHA1 / 6 digits / 30 s / ±1 step are the module's defaults."""
    assert otp.STEP_SECONDS == 30
    assert otp.DIGITS == 6
    assert otp.WINDOW_STEPS == 1
    assert otp.KEY_BYTES == 20
    # The default algorithm is SHA1: the default call equals the explicit SHA1 call.
    assert otp.code_at_step(SEED20, 1) == otp.code_at_step(SEED20, 1, 6, "SHA1") == "287082"


# ---------------------------------------------------------------------------------------
# S06 / C07: zero padding and exact length; S35 / C09 separators; C08 other digits
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "typed", "step"),
    [(1111111109, "081804", 37037036), (1234567890, "005924", 41152263)],
)
def test_s06_c07_leading_zero_codes_accepted_as_typed(now: int, typed: str, step: int) -> None:
    """S06/C07: codes with leading zeros are strings: accepted exactly as typed."""
    code = otp.code_at_step(SEED20, step)
    assert isinstance(code, str) and code == typed
    normalised = otp.normalise_code(typed)
    assert normalised == otp.NormalisedCode(typed, None)
    assert otp.verify(SEED20, typed, now, None) == otp.Verification(Verdict.ACCEPTED, step)


@pytest.mark.parametrize("typed", ["81804", "0081804", "5924", "05924", "0005924"])
def test_s06_c07_codes_without_or_with_extra_zeros_are_wrong_length(typed: str) -> None:
    """S06/C07: 81804, 0081804, 5924 (...) are refused as a format error, never read as
    integers (which would make 81804 equal 081804)."""
    assert otp.normalise_code(typed) == otp.NormalisedCode(None, CodeProblem.WRONG_LENGTH)


@pytest.mark.parametrize(
    ("now", "typed"),
    [(1111111109, "81804"), (1111111109, "0081804"), (1234567890, "5924"), (1234567890, "05924")],
)
def test_s06_verify_never_matches_an_integer_form(now: int, typed: str) -> None:
    """S06: even if an unnormalised short/long form reached verify, it is WRONG."""
    assert otp.verify(SEED20, typed, now, None).verdict is Verdict.WRONG


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123 456", "123456"),
        (" 123456 ", "123456"),
        ("123-456", "123456"),
        ("123\u00a0456", "123456"),
        ("12 34 56", "123456"),
        ("050471\n", "050471"),
        ("050 471", "050471"),
        ("050-471", "050471"),
        ("\t050471\r\n", "050471"),
        ("050\u2212471", "050471"),
        ("050\u2011471", "050471"),
        ("050\u202f471", "050471"),
    ],
)
def test_c09_s35_separators_are_removed(raw: str, expected: str) -> None:
    """C09/S35: spaces (incl. no-break spaces), dashes and a trailing newline are removed."""
    assert otp.normalise_code(raw) == otp.NormalisedCode(expected, None)


def test_c09_letter_inside_code_is_refused() -> None:
    """C09: `12a456` is refused as not ASCII digits (not silently dropped)."""
    assert otp.normalise_code("12a456") == otp.NormalisedCode(None, CodeProblem.NOT_ASCII_DIGITS)


def test_s35_separated_code_verifies_and_counts_against_replay() -> None:
    """S35: `050 471` at t=1111111111 is the code of step 37037037 and is then replayed."""
    typed = otp.normalise_code("050 471").digits
    assert typed == "050471"
    first = otp.verify(SEED20, typed, T_WINDOW, None)
    assert first == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW)
    again = otp.normalise_code("050-471").digits
    assert again is not None
    assert otp.verify(SEED20, again, T_WINDOW, first.step).verdict is Verdict.REPLAYED


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param("１２３４５６", CodeProblem.NOT_ASCII_DIGITS, id="full-width"),
        pytest.param("12345６", CodeProblem.NOT_ASCII_DIGITS, id="mixed-full-width"),
        pytest.param("●●●●●●", CodeProblem.NOT_ASCII_DIGITS, id="bullets"),
        pytest.param("\x00" * 6, CodeProblem.NOT_ASCII_DIGITS, id="nul-only"),
        pytest.param("050471\x00", CodeProblem.NOT_ASCII_DIGITS, id="nul-suffix"),
        pytest.param("050\x00471", CodeProblem.NOT_ASCII_DIGITS, id="nul-inside"),
        pytest.param("1" * 10240, CodeProblem.WRONG_LENGTH, id="10kB-digits"),
        pytest.param("a" * 10240, CodeProblem.WRONG_LENGTH, id="10kB-letters"),
        pytest.param("٠٥٠٤٧١", CodeProblem.NOT_ASCII_DIGITS, id="arabic-indic"),
        pytest.param("۰۵۰۴۷۱", CodeProblem.NOT_ASCII_DIGITS, id="extended-arabic-indic"),
        pytest.param("०५०४७१", CodeProblem.NOT_ASCII_DIGITS, id="devanagari"),
        pytest.param("+50471", CodeProblem.NOT_ASCII_DIGITS, id="plus-sign"),
        pytest.param("05o471", CodeProblem.NOT_ASCII_DIGITS, id="letter-o"),
        pytest.param("¹²³⁴⁵⁶", CodeProblem.NOT_ASCII_DIGITS, id="superscripts"),
        pytest.param("050471.", CodeProblem.NOT_ASCII_DIGITS, id="trailing-dot"),
        pytest.param("", CodeProblem.EMPTY, id="empty"),
        pytest.param("   \u00a0\t\n", CodeProblem.EMPTY, id="only-spaces"),
        pytest.param(" - - ", CodeProblem.EMPTY, id="only-dashes"),
        pytest.param("12345", CodeProblem.WRONG_LENGTH, id="five-digits"),
        pytest.param("1234567", CodeProblem.WRONG_LENGTH, id="seven-digits"),
    ],
)
def test_c08_other_digit_forms_get_a_problem_never_an_exception(
    raw: str, problem: CodeProblem
) -> None:
    """C08/S06: one policy for non-ASCII digits and junk: a CodeProblem, never an exception."""
    assert otp.normalise_code(raw) == otp.NormalisedCode(None, problem)


def test_c08_length_cap_applies_before_any_per_character_work() -> None:
    """C08: 64 characters are still read, 65 are refused as WRONG_LENGTH."""
    padded = " " * (otp.MAX_RAW_CODE_LENGTH - 6) + "050471"
    assert len(padded) == otp.MAX_RAW_CODE_LENGTH
    assert otp.normalise_code(padded) == otp.NormalisedCode("050471", None)
    assert otp.normalise_code(" " + padded) == otp.NormalisedCode(None, CodeProblem.WRONG_LENGTH)


def test_c08_full_width_code_of_the_right_value_is_not_accepted_by_verify() -> None:
    """C08: the full-width form of the current code is not converted: verify says WRONG."""
    assert otp.verify(SEED20, "０５０４７１", T_WINDOW, None).verdict is Verdict.WRONG


# ---------------------------------------------------------------------------------------
# S09 / S11 / S12 / S14 / C03 / C05: window and replay
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_s09_window_table_at_1111111111(offset: int, accepted: bool) -> None:
    """S09/A3: at t=1111111111 offsets -2..+2 give reject/accept/accept/accept/reject."""
    code = WINDOW_CODES[offset]
    assert otp.code_at_step(SEED20, STEP_WINDOW + offset) == code
    result = otp.verify(SEED20, code, T_WINDOW, None)
    if accepted:
        assert result == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW + offset)
    else:
        assert result == otp.Verification(Verdict.WRONG, None)


def test_s09_window_parameter_zero_accepts_only_current_step() -> None:
    """S09: the window is a parameter; window=0 accepts only the current step."""
    assert otp.verify(SEED20, "050471", T_WINDOW, None, window=0).verdict is Verdict.ACCEPTED
    assert otp.verify(SEED20, "081804", T_WINDOW, None, window=0).verdict is Verdict.WRONG
    assert otp.verify(SEED20, "266759", T_WINDOW, None, window=0).verdict is Verdict.WRONG


def test_s11_same_code_is_accepted_only_once() -> None:
    """S11: 050471 accepted at t=1111111111, then REPLAYED at the same and a later time."""
    first = otp.verify(SEED20, "050471", T_WINDOW, None)
    assert first == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW)
    assert otp.verify(SEED20, "050471", T_WINDOW, first.step) == otp.Verification(
        Verdict.REPLAYED, STEP_WINDOW
    )
    assert otp.verify(SEED20, "050471", T_WINDOW + 25, first.step).verdict is Verdict.REPLAYED


def test_verdict_for_code_of_exactly_last_used_step_is_replayed() -> None:
    """S11/S12: a code whose step equals last_used_step is REPLAYED (not WRONG, not ACCEPTED)."""
    for offset in (-1, 0, 1):
        step = STEP_WINDOW + offset
        result = otp.verify(SEED20, WINDOW_CODES[offset], T_WINDOW, step)
        assert result == otp.Verification(Verdict.REPLAYED, step)


def test_s12_monotonic_replay_protection() -> None:
    """S12: after step 37037037 was accepted, 081804 (step -1) is REPLAYED, 266759 (+1) is
    ACCEPTED, and then 050471 (now older than the last accepted) is REPLAYED too."""
    last = otp.verify(SEED20, "050471", T_WINDOW, None).step
    assert last == STEP_WINDOW
    assert otp.verify(SEED20, "081804", T_WINDOW, last) == otp.Verification(
        Verdict.REPLAYED, STEP_WINDOW - 1
    )
    nxt = otp.verify(SEED20, "266759", T_WINDOW, last)
    assert nxt == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW + 1)
    assert otp.verify(SEED20, "050471", T_WINDOW, nxt.step).verdict is Verdict.REPLAYED


def test_s12_last_used_step_older_than_window_does_not_block() -> None:
    """S12: a last_used_step before the window (or zero) blocks nothing in the window."""
    for last in (0, STEP_WINDOW - 2):
        for offset in (-1, 0, 1):
            result = otp.verify(SEED20, WINDOW_CODES[offset], T_WINDOW, last)
            assert result == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW + offset)


def test_wrong_code_is_wrong_even_with_replay_state() -> None:
    """S12: a code matching no window step is WRONG (counted as a guess), never REPLAYED."""
    assert otp.verify(SEED20, "000000", T_WINDOW, STEP_WINDOW + 1) == otp.Verification(
        Verdict.WRONG, None
    )


def test_c05_older_step_than_last_accepted_is_refused() -> None:
    """C05: at T0+35 code(T0+30) is accepted; code(T0) at T0+40 is then refused as replay."""
    t0 = 1_700_000_010  # an arbitrary T0 at the start (+10 s) of a step
    code_t0 = otp.code_at_step(SEED20, otp.time_step(t0))
    code_t30 = otp.code_at_step(SEED20, otp.time_step(t0 + 30))
    first = otp.verify(SEED20, code_t0, t0 + 5, None)
    assert first.verdict is Verdict.ACCEPTED
    assert otp.verify(SEED20, code_t0, t0 + 10, first.step).verdict is Verdict.REPLAYED
    second = otp.verify(SEED20, code_t30, t0 + 35, first.step)
    assert second == otp.Verification(Verdict.ACCEPTED, otp.time_step(t0 + 30))
    assert otp.verify(SEED20, code_t0, t0 + 40, second.step).verdict is Verdict.REPLAYED


def test_s14_verify_uses_only_the_time_it_is_given() -> None:
    """S14: the code for t=59 (287082) is WRONG when the server time is 1111111111."""
    assert otp.verify(SEED20, "287082", T_WINDOW, None).verdict is Verdict.WRONG
    assert otp.verify(SEED20, "287082", 59, None).verdict is Verdict.ACCEPTED


def test_c03_s15_obvious_guesses_are_wrong() -> None:
    """C03/S15: 000000, 999999, the current code + 1, and 000000..000099 are all WRONG."""
    plus_one = f"{(int(WINDOW_CODES[0]) + 1) % 10**6:06d}"
    guesses = ["000000", "999999", plus_one, ""] + [f"{n:06d}" for n in range(100)]
    for guess in guesses:
        assert otp.verify(SEED20, guess, T_WINDOW, None) == otp.Verification(Verdict.WRONG)


# ---------------------------------------------------------------------------------------
# C10: constant-time comparison of every candidate
# ---------------------------------------------------------------------------------------


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Record every hmac.compare_digest call made by twostep.otp."""
    calls: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(otp.hmac, "compare_digest", counting)
    return calls


@pytest.mark.parametrize(
    "code", [WINDOW_CODES[-1], WINDOW_CODES[0], WINDOW_CODES[1], "000000", "12345"]
)
def test_c10_every_window_step_compared_with_compare_digest(
    compare_calls: list[tuple[bytes, bytes]], code: str
) -> None:
    """C10: verify compares all 3 candidates (steps -1, 0, +1) with compare_digest, even when
    the first candidate matches (no early exit), always as ASCII bytes."""
    otp.verify(SEED20, code, T_WINDOW, None)
    typed = code.encode()
    assert len(compare_calls) == 3
    candidates = []
    for a, b in compare_calls:
        assert isinstance(a, bytes) and isinstance(b, bytes)
        assert typed in (a, b)
        candidates.append(b if a == typed else a)
    assert candidates == [WINDOW_CODES[o].encode() for o in (-1, 0, 1)]


def test_c10_first_candidate_match_still_compares_the_rest(
    compare_calls: list[tuple[bytes, bytes]],
) -> None:
    """C10: 081804 matches the FIRST candidate (step -1); the other two are still compared."""
    result = otp.verify(SEED20, WINDOW_CODES[-1], T_WINDOW, None)
    assert result == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW - 1)
    outcomes = [a == b for a, b in compare_calls]
    assert outcomes == [True, False, False]


def test_c10_wider_window_compares_every_candidate(
    compare_calls: list[tuple[bytes, bytes]],
) -> None:
    """C10: with window=2 all five candidates are compared, the first one matching."""
    result = otp.verify(SEED20, WINDOW_CODES[-2], T_WINDOW, None, window=2)
    assert result == otp.Verification(Verdict.ACCEPTED, STEP_WINDOW - 2)
    assert [a == b for a, b in compare_calls] == [True, False, False, False, False]


# ---------------------------------------------------------------------------------------
# S08 / S20 / S29 / C15 / A4: keys and base32
# ---------------------------------------------------------------------------------------


def test_c15_s20_s29_generated_keys_are_20_bytes_32_uppercase_chars_distinct() -> None:
    """C15/S20/S29: 100 generated keys: the URI secret decodes to exactly 20 bytes, is 32
    upper-case base32 characters without '=', and no two keys are equal."""
    secrets_seen: set[str] = set()
    for _ in range(100):
        key = otp.new_key()
        uri = otp.key_uri(key, "alice@example.com", "Twostep")
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert "=" not in secret
        assert base64.b32decode(secret) == key
        assert len(base64.b32decode(secret)) == 20
        secrets_seen.add(secret)
    assert len(secrets_seen) == 100


def test_s08_new_key_uses_secrets_token_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """S08: the key comes from the ``secrets`` CSPRNG, 20 bytes asked for."""
    asked: list[int] = []

    def fake_token_bytes(n: int) -> bytes:
        asked.append(n)
        return b"\x01" * n

    monkeypatch.setattr(otp.secrets, "token_bytes", fake_token_bytes)
    assert otp.new_key() == b"\x01" * 20
    assert asked == [20]


def test_s08_ten_thousand_keys_are_unique() -> None:
    """S08: 10,000 generated keys contain no duplicate."""
    keys = {otp.new_key() for _ in range(10_000)}
    assert len(keys) == 10_000


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (SEED20, SEED20_BASE32),
        (SEED32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"),
        (
            SEED64,
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA",
        ),
        (b"Hello!\xde\xad\xbe\xef", "JBSWY3DPEHPK3PXP"),
    ],
)
def test_a4_s29_key_to_base32_upper_case_without_padding(key: bytes, expected: str) -> None:
    """A4/S29: base32 upper case, padding removed (32-/64-byte seeds would need '=')."""
    assert otp.key_to_base32(key) == expected


@pytest.mark.parametrize("size", [10, 16, 20, 32])
def test_a4_base32_lengths_never_padded(size: int) -> None:
    """A4: 10/16/20/32 bytes → 16/26/32/52 characters, never '='."""
    lengths = {10: 16, 16: 26, 20: 32, 32: 52}
    encoded = otp.key_to_base32(bytes(range(size)))
    assert len(encoded) == lengths[size]
    assert "=" not in encoded and encoded == encoded.upper()


def test_s34_group_for_typing_gives_8_groups_of_4() -> None:
    """S34: the typed-key fallback: 8 groups of 4 that join back to the URI secret."""
    grouped = otp.group_for_typing(SEED20_BASE32)
    assert grouped == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    for _ in range(20):
        key = otp.new_key()
        secret = parse_qs(urlsplit(otp.key_uri(key, "a@example.com", "Twostep")).query)["secret"]
        grouped = otp.group_for_typing(otp.key_to_base32(key))
        groups = grouped.split(" ")
        assert len(groups) == 8 and all(len(g) == 4 for g in groups)
        assert grouped.replace(" ", "").upper() == secret[0]
        # What a person types (lower case, spaces) still names the same key.
        assert base64.b32decode(grouped.lower().replace(" ", ""), casefold=True) == key


# ---------------------------------------------------------------------------------------
# S26..S32 / S69 / C16 / C17: the otpauth:// key URI
# ---------------------------------------------------------------------------------------


def _label_parts(uri: str) -> tuple[str, str]:
    """The raw (still percent-encoded) issuer and account of the URI's label."""
    path = urlsplit(uri).path.lstrip("/")
    issuer, sep, account = path.partition(":")
    assert sep == ":"
    return issuer, account


def test_s69_exact_example_uri() -> None:
    """S69/S27/S30/S31: the computed pyotp example for "ACME Co" / john.doe@email.com."""
    assert otp.key_uri(SEED20, "john.doe@email.com", "ACME Co") == (
        "otpauth://totp/ACME%20Co:john.doe%40email.com"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co"
    )


def test_s26_uri_shape() -> None:
    """S26: otpauth://totp/LABEL?PARAMETERS, parseable by urlsplit."""
    uri = otp.key_uri(otp.new_key(), "alice@example.com", "Twostep")
    assert re.match(r"^otpauth://totp/[^?]+\?", uri)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.fragment == ""


def test_s27_label_is_issuer_colon_account_percent_encoded() -> None:
    """S27: label path ACME%20Co:john.doe%40email.com; unquote + split on the first ':'."""
    uri = otp.key_uri(SEED20, "john.doe@email.com", "ACME Co")
    assert urlsplit(uri).path == "/ACME%20Co:john.doe%40email.com"
    issuer, account = unquote(urlsplit(uri).path.lstrip("/")).split(":", 1)
    assert (issuer, account) == ("ACME Co", "john.doe@email.com")


@pytest.mark.parametrize("issuer", ["ACME: Portal", ":", "Twostep:"])
def test_s28_issuer_with_colon_is_refused(issuer: str) -> None:
    """S28: an issuer containing ':' raises ValueError (never emitted raw or as %3A)."""
    with pytest.raises(ValueError, match="must not contain ':'"):
        otp.key_uri(SEED20, "alice@example.com", issuer)


@pytest.mark.parametrize("issuer", ["", "   "])
def test_s28_empty_issuer_is_refused(issuer: str) -> None:
    """S28/S30: the issuer prefix must be non-empty."""
    with pytest.raises(ValueError):
        otp.key_uri(SEED20, "alice@example.com", issuer)


@pytest.mark.parametrize(
    ("account", "expected"),
    [("a:b@example.com", "ab@example.com"), ("::x::y::", "xy"), ("al:ice:", "alice")],
)
def test_s28_colons_removed_from_account(account: str, expected: str) -> None:
    """S28: colons in the account name are removed: exactly one ':' (the separator) in the
    label and no %3A anywhere."""
    uri = otp.key_uri(SEED20, account, "ACME Co")
    path = urlsplit(uri).path
    assert path.count(":") == 1
    assert "%3a" not in uri.lower()
    assert unquote(_label_parts(uri)[1]) == expected


def test_s28_account_made_only_of_colons_is_refused() -> None:
    """S28: an account that is empty once colons are removed raises ValueError."""
    with pytest.raises(ValueError):
        otp.key_uri(SEED20, ":::", "ACME Co")


@pytest.mark.parametrize("issuer", ["ACME Co", "Müller & Partner", "A+B=C?", "宮腰商事", "Twostep"])
def test_s30_issuer_parameter_equals_label_prefix(issuer: str) -> None:
    """S30: the issuer parameter equals the label prefix after unquoting (also for issuers
    with '&', '=', '+', '?' or non-ASCII characters)."""
    uri = otp.key_uri(SEED20, "alice@example.com", issuer)
    query = parse_qs(urlsplit(uri).query, strict_parsing=True)
    assert query["issuer"] == [issuer]
    assert unquote(_label_parts(uri)[0]) == issuer
    assert query["secret"] == [SEED20_BASE32]


def test_s31_spaces_are_percent_20_never_plus() -> None:
    """S31: 'ACME Co' is ACME%20Co in label and parameter, never ACME+Co; a literal '+'
    is %2B (so it does not turn into a space when a reader decodes '+')."""
    uri = otp.key_uri(SEED20, "john doe@email.com", "ACME Co")
    assert "issuer=ACME%20Co" in uri
    assert uri.startswith("otpauth://totp/ACME%20Co:john%20doe%40email.com?")
    assert "+" not in uri
    plus = otp.key_uri(SEED20, "a+tag@example.com", "A+B")
    assert "+" not in plus
    assert "%2B" in plus
    assert unquote(_label_parts(plus)[1]) == "a+tag@example.com"


def test_s32_no_algorithm_digits_or_period_parameters() -> None:
    """S32/S07: only secret and issuer are emitted (defaults SHA1/6/30 left out)."""
    uri = otp.key_uri(otp.new_key(), "alice@example.com", "Twostep")
    params = parse_qs(urlsplit(uri).query, strict_parsing=True)
    assert set(params) == {"secret", "issuer"}
    for name in ("algorithm", "digits", "period", "counter"):
        assert f"{name}=" not in uri


@pytest.mark.parametrize(
    "account",
    ["jürgen@bücher.example", "宮腰悠希@example.jp", "anna🙂@example.com", "Jürgen Müller"],
)
def test_c16_non_ascii_account_percent_encoded_as_utf8(account: str) -> None:
    """C16: non-ASCII accounts give a pure-ASCII URI whose label is UTF-8 percent-encoded
    and round-trips through urllib.parse.unquote."""
    uri = otp.key_uri(SEED20, account, "Twostep")
    assert uri.isascii()
    raw_account = _label_parts(uri)[1]
    assert raw_account == quote(account, safe="")
    assert unquote_to_bytes(raw_account) == account.encode("utf-8")
    assert unquote(raw_account) == account
    assert unquote(urlsplit(uri).path.lstrip("/")) == f"Twostep:{account}"


def test_c16_emoji_is_four_utf8_bytes_in_the_label() -> None:
    """C16: an emoji (U+1F642) is encoded as its 4 UTF-8 bytes, not UTF-16 surrogates."""
    uri = otp.key_uri(SEED20, "🙂", "Twostep")
    assert _label_parts(uri)[1] == "%F0%9F%99%82"


def test_c17_long_issuer_and_account_keep_minimal_uri() -> None:
    """C17: a 60-character issuer and 60-character email: only secret and issuer parameters,
    everything round-trips, nothing else added."""
    issuer = "I" * 60
    account = "a" * 48 + "@example.com"
    assert len(account) == 60
    uri = otp.key_uri(SEED20, account, issuer)
    expected_account = account.replace("@", "%40")
    assert uri == (
        f"otpauth://totp/{issuer}:{expected_account}?secret={SEED20_BASE32}&issuer={issuer}"
    )
