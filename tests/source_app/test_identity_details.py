"""An identified reporter's details: typed in any script, stored in one standard form."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_app.identity import (
    InvalidDetail,
    normalise_city,
    normalise_email,
    normalise_full_name,
    normalise_national_id,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("06 12 34 56 78", "+212612345678"),
        ("0612345678", "+212612345678"),
        ("07-12-34-56-78", "+212712345678"),
        ("05 22 12 34 56", "+212522123456"),
        ("+212 6 12 34 56 78", "+212612345678"),
        ("+212 (0) 6 12 34 56 78", "+212612345678"),
        ("00212612345678", "+212612345678"),
        ("212612345678", "+212612345678"),
        ("٠٦١٢٣٤٥٦٧٨", "+212612345678"),
        ("۰۶۱۲۳۴۵۶۷۸", "+212612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+34 612 345 678", "+34612345678"),
        ("+1 (202) 555-0143", "+12025550143"),
    ],
)
def test_phone_numbers_become_e164(typed: str, expected: str) -> None:
    assert normalise_phone(typed) == expected


@pytest.mark.parametrize(
    "typed", ["12345", "06 12 34", "+212 9 12 34 56 78", "+212 6 12 34 56 789", "abc", "+0 123456"]
)
def test_impossible_phone_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidDetail):
        normalise_phone(typed)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789+ -()٠١٢٣٤٥٦٧٨٩x", max_size=25))
def test_phone_normalising_never_crashes_and_is_idempotent(typed: str) -> None:
    try:
        phone = normalise_phone(typed)
    except InvalidDetail:
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", phone)
    assert normalise_phone(phone) == phone


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("AB123456", "AB123456"),
        ("ab 123456", "AB123456"),
        ("J 12345", "J12345"),
        ("be-٩٨٧٦٥٤", "BE987654"),
    ],
)
def test_national_id_numbers_are_one_or_two_letters_and_digits(typed: str, expected: str) -> None:
    assert normalise_national_id(typed) == expected


@pytest.mark.parametrize("typed", ["123456", "ABC123456", "AB", "AB12345678", "A-B-C", "AB12X4"])
def test_other_id_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidDetail):
        normalise_national_id(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("amina@example.ma", "amina@example.ma"),
        (" Amina.B@Example.MA ", "Amina.B@example.ma"),
        ("user+tag@sub.example.org", "user+tag@sub.example.org"),
        ("nom@exemple.المغرب", "nom@exemple.xn--mgbc0a9azcg"),
    ],
)
def test_email_addresses_keep_their_local_part_and_lowercase_the_domain(
    typed: str, expected: str
) -> None:
    assert normalise_email(typed) == expected


@pytest.mark.parametrize(
    "typed",
    ["amina", "amina@", "@example.ma", "a b@example.ma", "a@localhost", "a..b@x.ma", "a@x.123"],
)
def test_malformed_email_addresses_are_refused(typed: str) -> None:
    with pytest.raises(InvalidDetail):
        normalise_email(typed)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_as_a_detail_is_normalised_stably_or_refused(typed: str) -> None:
    for normalise in (
        normalise_email,
        normalise_national_id,
        normalise_phone,
        normalise_full_name,
        normalise_city,
    ):
        try:
            value = normalise(typed)
        except InvalidDetail:
            continue
        assert normalise(value) == value


def test_names_and_cities_refuse_direction_overrides_and_need_letters() -> None:
    assert normalise_full_name("  Amina   Benali ") == "Amina Benali"
    assert normalise_full_name("أمينة بنعلي") == "أمينة بنعلي"
    assert normalise_city("الدار البيضاء") == "الدار البيضاء"
    for bad in ("Amina\u202e", "1234", "\x07bell"):
        with pytest.raises(InvalidDetail):
            normalise_full_name(bad)
