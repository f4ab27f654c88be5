import pytest

from steppe.storage.timestamps import normalise


def test_zulu_timestamps_are_stored_at_one_width() -> None:
    assert normalise("2026-11-28T10:00:05.12Z") == "2026-11-28T10:00:05.120000Z"
    assert normalise("2026-11-28t10:00:05z") == "2026-11-28T10:00:05.000000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T10:00:05.\u0661\u0662\u0663Z",
        "\u0662026-11-28T10:00:05Z",
        "2026-13-01T00:00:00Z",
    ],
)
def test_non_ascii_digits_and_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalise(text)
