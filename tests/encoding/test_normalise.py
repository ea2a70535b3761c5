"""Tests for linkage.encoding.normalise: properties first, then examples."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    FOUR_DIGIT_YEAR_FORMATS,
    LATIN_LETTERS,
    birth_dates,
    latin_words,
    messy_strings,
    people_names,
)

from linkage.encoding.normalise import (
    COMMON_DATE_FORMATS,
    NameParts,
    collapse_whitespace,
    digits_only,
    exact_date,
    first_word,
    fold_case,
    fold_spelling,
    format_date,
    is_missing,
    missing_tokens,
    nfkc,
    parse_date,
    read_date,
    reformat_date,
    remove_punctuation,
    remove_whitespace,
    split_full_name,
    strip_accents,
    validate_date_format,
    zero_pad,
)
from tests.conftest import map_column, one_field_mapping

RULES = ("keep", "space", "remove")


def _name_pipeline(value: str) -> str:
    return remove_punctuation(fold_case(strip_accents(nfkc(value))))


@given(messy_strings())
def test_strip_accents_is_idempotent(value: str) -> None:
    """Stripping accents twice gives the same as once."""
    once = strip_accents(value)
    assert strip_accents(once) == once


@given(st.text(LATIN_LETTERS + " -'"))
def test_strip_accents_makes_latin_text_ascii(value: str) -> None:
    """Every Latin-1 and Latin Extended-A letter ends up plain ASCII."""
    assert strip_accents(value).isascii()


@given(messy_strings())
def test_strip_accents_leaves_no_combining_marks(value: str) -> None:
    """No combining accent survives."""
    assert not any(unicodedata.combining(char) for char in strip_accents(value))


@given(messy_strings())
def test_collapse_whitespace_is_idempotent_and_tidy(value: str) -> None:
    """The result has no outer, doubled or invisible spacing, and is stable."""
    once = collapse_whitespace(value)
    assert collapse_whitespace(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert "\u200b" not in once
    assert "\ufeff" not in once


@given(messy_strings(), st.sampled_from(RULES), st.sampled_from(RULES))
def test_remove_punctuation_is_idempotent(
    value: str, hyphen: str, apostrophe: str
) -> None:
    """Cleaning punctuation twice gives the same as once, for every rule."""
    once = remove_punctuation(value, hyphen=hyphen, apostrophe=apostrophe)  # type: ignore[arg-type]
    again = remove_punctuation(once, hyphen=hyphen, apostrophe=apostrophe)  # type: ignore[arg-type]
    assert again == once


@given(messy_strings())
def test_remove_punctuation_leaves_no_punctuation_or_symbols(value: str) -> None:
    """With the default rules no punctuation or symbol remains."""
    cleaned = remove_punctuation(value)
    assert not any(unicodedata.category(char)[0] in "PS" for char in cleaned)


@given(messy_strings())
def test_name_pipeline_is_idempotent_and_deterministic(value: str) -> None:
    """The steps a mapping applies to names settle after one pass."""
    once = _name_pipeline(value)
    assert _name_pipeline(value) == once
    assert _name_pipeline(once) == once


@given(messy_strings())
def test_digits_only_keeps_ascii_digits(value: str) -> None:
    """The result is ASCII digits only, and stable."""
    digits = digits_only(value)
    assert digits == "" or (digits.isascii() and digits.isdigit())
    assert digits_only(digits) == digits


@given(messy_strings())
def test_remove_whitespace_removes_every_space(value: str) -> None:
    """No whitespace is left."""
    assert not any(char.isspace() for char in remove_whitespace(value))


@given(birth_dates(), st.sampled_from(FOUR_DIGIT_YEAR_FORMATS))
def test_dates_round_trip_in_every_format(day: date, date_format: str) -> None:
    """A date written in an accepted format reads back as the same date."""
    assert parse_date(format_date(day, date_format), [date_format]) == day


@given(birth_dates(), st.sampled_from(COMMON_DATE_FORMATS))
def test_common_formats_do_not_misread_each_other(day: date, date_format: str) -> None:
    """Trying every common format still reads the date right."""
    assert parse_date(format_date(day, date_format), COMMON_DATE_FORMATS) == day


@given(st.dates(min_value=date(1930, 1, 1), max_value=date(2029, 12, 31)))
def test_two_digit_years_round_trip_with_a_pivot(day: date) -> None:
    """With pivot_year 1930, two-digit years fall in 1930 to 2029."""
    text = format_date(day, "%d/%m/%y")
    assert parse_date(text, ["%d/%m/%y"], pivot_year=1930) == day


@given(st.sampled_from(FOUR_DIGIT_YEAR_FORMATS))
def test_every_tested_format_is_valid(date_format: str) -> None:
    """The formats the round trip uses pass validate_date_format."""
    validate_date_format(date_format)


@given(people_names())
def test_full_name_orders_agree(name: tuple[list[str], str]) -> None:
    """'SURNAME, Given Middle' and 'Given Middle Surname' split the same way."""
    given_names, surname = name
    expected = NameParts(given_names[0], tuple(given_names[1:]), surname)
    words = " ".join(given_names)
    assert split_full_name(f"{surname}, {words}") == expected
    assert split_full_name(f"{words} {surname}") == expected
    assert split_full_name(f"{surname} {words}", order="surname_first") == expected


@given(people_names())
def test_full_name_split_ignores_case_and_spacing(name: tuple[list[str], str]) -> None:
    """Upper case and extra spaces do not change where the name is split."""
    given_names, surname = name
    shouted = f"  {surname.upper()} ,   {'  '.join(given_names).upper()} "
    parts = split_full_name(shouted)
    assert parts.surname == surname.upper()
    assert parts.given_names == " ".join(given_names).upper()


@given(latin_words(), st.sampled_from(["van der", "de", "da", "Van", "DI", "le"]))
def test_surname_particles_stay_with_the_surname(word: str, particle: str) -> None:
    """'Anna van der Berg' has surname 'van der Berg', as 'VAN DER BERG, Anna' has."""
    given_first = split_full_name(f"Anna Maria {particle} {word}")
    surname_first = split_full_name(f"{particle} {word}, Anna Maria")
    assert given_first == surname_first
    assert given_first.surname == f"{particle} {word}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("é", "e"),
        ("ß", "ss"),
        ("Ł", "L"),
        ("ø", "o"),
        ("Æsir", "AEsir"),
        ("Nguyễn", "Nguyen"),
        ("Yılmaz", "Yilmaz"),
        ("Ŀlívia", "Llivia"),
        ("Ｓｍｉｔｈ", "Smith"),
    ],
)
def test_strip_accents_examples(value: str, expected: str) -> None:
    """Accents go, special letters get their usual plain spelling."""
    assert strip_accents(value) == expected


@pytest.mark.parametrize(
    ("value", "hyphen", "apostrophe", "expected"),
    [
        ("O'Brien", "space", "remove", "OBrien"),
        ("O’Brien", "space", "remove", "OBrien"),
        ("O'Brien", "space", "space", "O Brien"),
        ("O’Brien", "space", "keep", "O'Brien"),
        ("Smith-Jones", "space", "remove", "Smith Jones"),
        ("Smith–Jones", "remove", "remove", "SmithJones"),
        ("Smith‐Jones", "keep", "remove", "Smith-Jones"),
        ("St. John's Rd, 3/12", "space", "remove", "St Johns Rd 3 12"),
    ],
)
def test_remove_punctuation_rules(
    value: str, hyphen: str, apostrophe: str, expected: str
) -> None:
    """Hyphens and apostrophes follow their rule; other punctuation becomes a space."""
    cleaned = remove_punctuation(value, hyphen=hyphen, apostrophe=apostrophe)  # type: ignore[arg-type]
    assert cleaned == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("03/02/1980", date(1980, 2, 3)),
        ("3/2/1980", date(1980, 2, 3)),
        ("19800203", date(1980, 2, 3)),
        ("1980-02-03", date(1980, 2, 3)),
        ("3 Feb 1980", date(1980, 2, 3)),
        ("3 february 1980", date(1980, 2, 3)),
        ("03.02.1980", date(1980, 2, 3)),
        ("3-FEB-1980", date(1980, 2, 3)),
    ],
)
def test_parse_date_examples(value: str, expected: date) -> None:
    """Dates in the usual export formats are read."""
    assert parse_date(value, COMMON_DATE_FORMATS) == expected


@pytest.mark.parametrize(
    "value", ["1980123", "31/02/1980", "1980-13-01", "", "03/02/80"]
)
def test_parse_date_refuses_near_misses(value: str) -> None:
    """Values strptime would stretch to fit, or that are not dates, are refused."""
    with pytest.raises(ValueError, match="accepted format"):
        parse_date(value, COMMON_DATE_FORMATS)


def test_two_digit_year_needs_a_pivot() -> None:
    """A %y format without pivot_year is refused, with the fix in the message."""
    with pytest.raises(ValueError, match="pivot_year"):
        parse_date("03/02/80", ["%d/%m/%y"])


def test_pivot_year_sets_the_century_window() -> None:
    """With pivot 1930, '29' is 2029 and '30' is 1930."""
    assert parse_date("01/01/29", ["%d/%m/%y"], pivot_year=1930).year == 2029
    assert parse_date("01/01/30", ["%d/%m/%y"], pivot_year=1930).year == 1930


def test_reformat_date_writes_the_output_format() -> None:
    """A date is read in one format and written in another."""
    assert reformat_date("3 Feb 1980", ["%d %b %Y"], "%Y-%m-%d") == "1980-02-03"


def test_format_date_pads_early_years() -> None:
    """Years before 1000 get four digits on every platform."""
    assert format_date(date(999, 1, 2), "%Y-%m-%d") == "0999-01-02"


@pytest.mark.parametrize(
    ("date_format", "message"),
    [
        ("%d/%m", "year"),
        ("%Y-%m", "day"),
        ("%Y-%m-%d %H:%M", "%H"),
        ("%x", "%x"),
        ("%Y-%m-%d%", "lone"),
    ],
)
def test_validate_date_format_refuses_incomplete_formats(
    date_format: str, message: str
) -> None:
    """A format must fix year, month and day and use only date directives."""
    with pytest.raises(ValueError, match=message):
        validate_date_format(date_format)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SMITH, John Paul", NameParts("John", ("Paul",), "SMITH")),
        ("John Paul Smith", NameParts("John", ("Paul",), "Smith")),
        ("Madonna", NameParts("", (), "Madonna")),
        ("SMITH,", NameParts("", (), "SMITH")),
        ("", NameParts("", (), "")),
        ("Maria da Silva", NameParts("Maria", (), "da Silva")),
        ("Minh Le", NameParts("Minh", (), "Le")),
    ],
)
def test_split_full_name_examples(value: str, expected: NameParts) -> None:
    """Common shapes of full names split as a clerk would split them."""
    assert split_full_name(value) == expected


def test_split_full_name_surname_first_without_comma() -> None:
    """order='surname_first' reads 'SMITH John' and keeps particles together."""
    assert split_full_name("SMITH John", order="surname_first").surname == "SMITH"
    parts = split_full_name("VAN DER BERG Anna", order="surname_first")
    assert parts == NameParts("Anna", (), "VAN DER BERG")


def test_missing_tokens_ignore_case_and_spaces() -> None:
    """'n/a', ' NULL ' and blanks count as missing; real values do not."""
    tokens = missing_tokens(["N/A", "NULL"])
    assert is_missing(" null ", tokens)
    assert is_missing("n/a", tokens)
    assert is_missing(" \u200b ", tokens)
    assert not is_missing("Nulla", tokens)


def test_small_helpers() -> None:
    """first_word, zero_pad and digits_only do what their names say."""
    assert first_word("  John Paul ") == "John"
    assert zero_pad("800", 4) == "0800"
    assert zero_pad("A12", 4) == "A12"
    assert digits_only("(02) 9876-5432") == "0298765432"
    assert digits_only("٣٤") == "34"


def _strptime_or_error(text: str, date_format: str) -> datetime | str:
    try:
        return datetime.strptime(text, date_format)
    except ValueError:
        return "error"


def _read_or_error(text: str, date_format: str) -> datetime | str:
    try:
        return read_date(text, date_format)
    except ValueError:
        return "error"


NUMERIC_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%m.%d.%Y", "%d-%m-%Y"]


@pytest.mark.parametrize("date_format", NUMERIC_FORMATS)
@pytest.mark.parametrize(
    "year", ["0000", "0001", "0999", "1900", "2000", "2024", "9999"]
)
def test_numeric_dates_are_read_as_strptime_reads_them(
    year: str, date_format: str
) -> None:
    """The shortcut for dates written digit for digit accepts and refuses
    what strptime does, for every month and day from 00 to 39, leap years
    included, and writes them back as strftime does."""
    for month in range(40):
        for day in range(40):
            text = (
                date_format.replace("%Y", year)
                .replace("%m", f"{month:02d}")
                .replace("%d", f"{day:02d}")
            )
            expected = _strptime_or_error(text, date_format)
            assert _read_or_error(text, date_format) == expected, text
            try:
                mapped: date | str = parse_date(text, [date_format])
            except ValueError:
                mapped = "error"
            assert mapped == (expected if expected == "error" else expected.date())
            if expected != "error":
                assert format_date(expected, date_format) == text


@pytest.mark.parametrize(
    "text",
    ["1980-2-3", " 1980-02-03", "1980-02-03 ", "1980-02-3", "１９８０-02-03",
     "19800203", "1980/02/03", "1980-02-03T00", "+980-02-03", "1980--2-03"],
)  # fmt: skip
def test_other_iso_like_texts_go_to_strptime(text: str) -> None:
    assert exact_date(text, "%Y-%m-%d") is None
    assert _read_or_error(text, "%Y-%m-%d") == _strptime_or_error(text, "%Y-%m-%d")
    assert exact_date("1980-02-03", "%Y%m%d") is None


@pytest.mark.parametrize(
    "date_format", ["%d %m %Y", "%dT%m%Y", "%d/%m/%y", "%d/%b/%Y", "%Y%m", "%Y{%m}%d"]
)
def test_formats_with_letters_spaces_or_other_directives_take_strptime(
    date_format: str,
) -> None:
    assert exact_date("01/02/1980", date_format) is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(NUMERIC_FORMATS),
    st.text(alphabet="0123456789/-.٣ ", min_size=6, max_size=11),
)
def test_any_text_is_read_as_strptime_reads_it(date_format: str, text: str) -> None:
    assert _read_or_error(text, date_format) == _strptime_or_error(text, date_format)


# fold_spelling -----------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("khoury", "khouri"),
        ("natalya", "natalia"),
        ("kuznetsov", "kouznetsov"),
        ("qureshi", "kureshi"),
        ("bondarenco", "bondarenko"),
        ("haddad", "hadad"),
        ("nur", "noor"),
        ("olga", "olgha"),
        ("philip", "filip"),
    ],
)
def test_spellings_of_one_name_come_out_alike(one: str, other: str) -> None:
    assert fold_spelling(one) == fold_spelling(other)


def test_letters_no_rule_names_are_kept() -> None:
    """ "ch" stays (Chen is not Ken), as do vowels other than those folded."""
    assert fold_spelling("chen") == "chen"
    assert fold_spelling("maria lopez") == "maria lopez"
    assert fold_spelling("") == ""


@given(st.text(alphabet="abcdeghikopqstuwy -", max_size=16))
def test_twice_is_once(value: str) -> None:
    """Folding what was folded changes nothing, however the letters meet
    ("qh" is "kh" only once q is k)."""
    once = fold_spelling(value)
    assert fold_spelling(once) == once
    assert len(once) <= len(value)


def test_fold_spelling_is_a_mapping_step(tmp_path: Path) -> None:
    """After the usual name steps, an agency's "KHOURY" and another's
    "Khouri" are one surname."""
    path = one_field_mapping(
        tmp_path, "[nfkc, strip_accents, lower, fold_spelling]", "surname", "NAME"
    )
    assert map_column(path, "NAME", ["KHOURY", "Khouri", "Chen"]) == [
        "kuri",
        "kuri",
        "chen",
    ]
