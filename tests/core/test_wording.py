"""Counts in messages agree with their nouns and verbs; a broken JSON file
is described by where and what; stored times read to the minute in UTC."""

import json

from core.wording import counted, counted_verb, json_error_place, minute_utc


def test_counts_agree_with_their_nouns() -> None:
    assert counted(1, "slide") == "1 slide"
    assert counted(0, "slide") == "0 slides"
    assert counted(3, "white cell") == "3 white cells"
    assert counted(2, "box", "boxes") == "2 boxes"
    assert counted_verb(1, "cell", "is", "are") == "1 cell is"
    assert counted_verb(4, "white cell", "has", "have") == "4 white cells have"


def test_a_broken_json_file_is_described_by_line_column_and_problem() -> None:
    def place(text: str) -> str:
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            return json_error_place(error)
        raise AssertionError("valid JSON")

    assert place('{"a": 1,\n "b": }') == "line 2, column 7: Expecting value"
    assert (
        place('{"name": "tab\there"}') == "line 1, column 14: Invalid control character"
    )  # Python's text ends on "at"
    assert place('{"name": "unfinished') == "line 1, column 10: Unterminated string"


def test_stored_times_read_to_the_minute_in_utc() -> None:
    assert minute_utc("2026-12-04T15:27:07.502+00:00") == "2026-12-04 15:27 UTC"
    assert minute_utc("2026-12-04T16:27:59+01:00") == "2026-12-04 15:27 UTC"  # another offset is converted
    assert minute_utc("2026-12-04T15:27") == "2026-12-04 15:27 UTC"  # no offset: taken as UTC
    assert minute_utc(None) == minute_utc("") == ""
    assert minute_utc("yesterday") == "yesterday"  # not a timestamp: shown, not lost
