"""Property tests (hypothesis) for ``twostep.otp``: normalisation and replay rules.

Pure: no database, no clock. Times start at t=150 (step 5) so that the window and the
codes of steps current-3 .. current+3 used below never reach before step 0 (the t < 30
case is an explicit example test in test_otp.py, S03).
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from twostep import otp
from twostep.otp import CodeProblem, Verdict

PROPERTY_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ASCII_DIGITS = "0123456789"
DASHES = "-\u2010\u2011\u2012\u2013\u2212"
SEPARATORS = [" ", "\u00a0", "\u202f", "\t", "\n", "-", "\u2010", "\u2011", "\u2212"]

keys = st.binary(min_size=16, max_size=64)
# Realistic server times: from t=150 to beyond 2038 and beyond 32-bit seconds (S05).
times = st.one_of(
    st.integers(min_value=150, max_value=40_000_000_000),
    st.floats(min_value=150, max_value=40_000_000_000, allow_nan=False, allow_infinity=False),
)
six_digits = st.text(alphabet=ASCII_DIGITS, min_size=6, max_size=6)
any_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=0x20), max_size=80),
    st.text(alphabet=st.sampled_from([*ASCII_DIGITS, *SEPARATORS, "\x00", "a"]), max_size=80),
    st.text(min_size=60, max_size=300),
)


def _check_shape(result: otp.NormalisedCode) -> None:
    assert isinstance(result, otp.NormalisedCode)
    if result.problem is None:
        assert result.digits is not None
        assert len(result.digits) == 6
        assert all(ch in ASCII_DIGITS for ch in result.digits)
    else:
        assert isinstance(result.problem, CodeProblem)
        assert result.digits is None


@PROPERTY_SETTINGS
@given(any_text)
@example("\x00" * 10240)
@example("１２３４５６")
@example("")
def test_c08_normalise_code_never_raises_and_gives_digits_or_problem(raw: str) -> None:
    """C08: for any text (control characters, NUL, long strings, any script) normalise_code
    returns either exactly 6 ASCII digits or a CodeProblem, never raising."""
    result = otp.normalise_code(raw)
    _check_shape(result)
    if result.digits is not None:
        # What is kept is exactly the input without separators (nothing converted).
        kept = "".join(ch for ch in raw if not ch.isspace() and ch not in DASHES)
        assert kept == result.digits


@PROPERTY_SETTINGS
@given(six_digits, st.lists(st.tuples(st.integers(0, 6), st.sampled_from(SEPARATORS)), max_size=6))
def test_c09_s35_separators_anywhere_give_the_same_code(
    code: str, inserts: list[tuple[int, str]]
) -> None:
    """C09/S35: spaces and dashes inserted anywhere in a 6-digit code leave the code intact,
    leading zeros included."""
    typed = code
    for position, separator in inserts:
        typed = typed[:position] + separator + typed[position:]
    assert otp.normalise_code(typed) == otp.NormalisedCode(code, None)


@PROPERTY_SETTINGS
@given(
    six_digits,
    st.integers(0, 5),
    st.characters(categories=["Nd"]).filter(lambda ch: ch not in ASCII_DIGITS),
)
def test_c08_non_ascii_digit_anywhere_is_refused(code: str, position: int, other: str) -> None:
    """C08: a digit of another script (full-width, Arabic-Indic, ...) replacing any ASCII digit
    is refused with NOT_ASCII_DIGITS, never converted."""
    typed = code[:position] + other + code[position + 1 :]
    assert otp.normalise_code(typed) == otp.NormalisedCode(None, CodeProblem.NOT_ASCII_DIGITS)


@PROPERTY_SETTINGS
@given(st.text(alphabet=ASCII_DIGITS, max_size=64).filter(lambda s: len(s) != 6))
def test_s06_any_other_number_of_ascii_digits_is_wrong_length(typed: str) -> None:
    """S06/C07: ASCII digit strings of any length other than 6 are refused (EMPTY for none),
    whatever their leading zeros."""
    expected = CodeProblem.EMPTY if typed == "" else CodeProblem.WRONG_LENGTH
    assert otp.normalise_code(typed) == otp.NormalisedCode(None, expected)


@PROPERTY_SETTINGS
@given(
    keys,
    times,
    st.integers(min_value=-3, max_value=3),
    st.one_of(st.integers(min_value=-3, max_value=3), six_digits),
)
def test_s12_verify_never_accepts_a_step_at_or_before_last_used(
    key: bytes, now: float, last_offset: int, code_choice: int | str
) -> None:
    """S11/S12: whatever the code, an ACCEPTED verdict always names a step after
    last_used_step, inside the ±1 window, whose code is the one given; REPLAYED names a step
    at or before last_used_step."""
    current = otp.time_step(now)
    last_used = current + last_offset
    code = (
        otp.code_at_step(key, current + code_choice)
        if isinstance(code_choice, int)
        else code_choice
    )
    result = otp.verify(key, code, now, last_used)
    if result.verdict is Verdict.ACCEPTED:
        assert result.step is not None
        assert result.step > last_used
        assert current - 1 <= result.step <= current + 1
        assert otp.code_at_step(key, result.step) == code
    elif result.verdict is Verdict.REPLAYED:
        assert result.step is not None
        assert result.step <= last_used
        assert otp.code_at_step(key, result.step) == code
    else:
        assert result.step is None
        for step in (current - 1, current, current + 1):
            assert otp.code_at_step(key, step) != code


@PROPERTY_SETTINGS
@given(keys, times, st.one_of(st.none(), st.integers(min_value=2, max_value=10**6)))
def test_s03_s09_verify_accepts_current_code_when_last_used_is_older(
    key: bytes, now: float, gap: int | None
) -> None:
    """S03/S09: for any key and time, the code of the current step is ACCEPTED when
    last_used_step is None or < current - 1 (the accepted step matches the code; it is the
    current step unless a neighbour step happens to share the code)."""
    current = otp.time_step(now)
    last_used = None if gap is None else current - gap
    code = otp.code_at_step(key, current)
    result = otp.verify(key, code, now, last_used)
    assert result.verdict is Verdict.ACCEPTED
    assert result.step is not None
    assert result.step >= current
    assert otp.code_at_step(key, result.step) == code


@PROPERTY_SETTINGS
@given(keys, times)
def test_s11_accepted_code_is_replayed_on_second_use(key: bytes, now: float) -> None:
    """S11: feeding the accepted step back as last_used_step makes the same code REPLAYED."""
    code = otp.code_at_step(key, otp.time_step(now))
    first = otp.verify(key, code, now, None)
    assert first.verdict is Verdict.ACCEPTED
    second = otp.verify(key, code, now, first.step)
    assert second.verdict is Verdict.REPLAYED


@PROPERTY_SETTINGS
@given(keys, st.integers(min_value=0, max_value=2**40))
def test_s03_totp_is_hotp_of_the_step(key: bytes, step: int) -> None:
    """S03/A3: every time inside step T (30·T .. 30·T+29) maps to T, and the code is a
    zero-padded 6-character ASCII digit string."""
    assert otp.time_step(30 * step) == step
    assert otp.time_step(30 * step + 29) == step
    code = otp.code_at_step(key, step)
    assert len(code) == 6 and all(ch in ASCII_DIGITS for ch in code)


@PROPERTY_SETTINGS
@given(st.binary(min_size=1, max_size=64))
def test_s29_s34_base32_and_grouping_round_trip(key: bytes) -> None:
    """S29/S34: the base32 form has no '=', is upper case, and the typing groups join back
    to it (groups of 4, the last one possibly shorter)."""
    encoded = otp.key_to_base32(key)
    assert "=" not in encoded and encoded == encoded.upper()
    padded = encoded + "=" * (-len(encoded) % 8)
    assert base64.b32decode(padded) == key
    grouped = otp.group_for_typing(encoded)
    groups = grouped.split(" ")
    assert "".join(groups) == encoded
    assert all(len(group) == 4 for group in groups[:-1])
    assert 1 <= len(groups[-1]) <= 4
