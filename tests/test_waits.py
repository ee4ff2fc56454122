import pytest

from twostep.waits import wait_phrase


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "1 second"),
        (2, "2 seconds"),
        (119, "119 seconds"),
        (120, "2 minutes"),
        (121, "3 minutes"),
        (7199, "120 minutes"),
        (7200, "2 hours"),
        (86399, "24 hours"),
    ],
)
def test_waits_are_said_in_units_a_person_uses_and_never_shorter(seconds: int, said: str) -> None:
    assert wait_phrase(seconds) == said
