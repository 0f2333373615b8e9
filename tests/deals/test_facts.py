"""Typed deal facts: each type's parsing and the message a person sees when it is wrong."""

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.deals.facts import FactError, is_met, parse_fact, parse_facts

TODAY = date(2030, 6, 15)


def field(type_, **options):
    base = {"type": type_, "min_value": None, "max_value": None, "pattern": None,
            "future_only": False, "choices": None, "archived": False, "key": "f", "label": "F"}
    return SimpleNamespace(**{**base, **options})


def error_of(f, raw):
    with pytest.raises(FactError) as info:
        parse_fact(f, raw, TODAY)
    return str(info.value)


@pytest.mark.parametrize("raw, stored", [(True, True), (False, False), ("on", True), ("Yes", True),
                                         ("1", True), ("off", False), ("", False), (None, False)])
def test_checkbox_reads_form_and_json_values(raw, stored):
    assert parse_fact(field("checkbox"), raw) is stored


def test_checkbox_rejects_other_words():
    assert error_of(field("checkbox"), "maybe") == "must be true or false"


def test_checkbox_requirement_is_met_only_when_ticked():
    assert is_met(field("checkbox"), True)
    assert not is_met(field("checkbox"), False)
    assert not is_met(field("checkbox"), None)


def test_empty_values_are_stored_as_nothing_and_do_not_meet_a_requirement():
    for type_ in ("text", "long_text", "number", "money", "date", "choice", "email", "url", "contact"):
        assert parse_fact(field(type_), "   ") is None
        assert not is_met(field(type_), None)
        assert not is_met(field(type_), "  ")


def test_text_is_trimmed_and_limited():
    assert parse_fact(field("text"), "  Agreed  ") == "Agreed"
    assert error_of(field("text"), "x" * 501) == "must be at most 500 characters"
    assert parse_fact(field("long_text"), "y" * 5000) == "y" * 5000
    assert error_of(field("long_text"), "y" * 10_001) == "must be at most 10,000 characters"


def test_text_rejects_non_text_values():
    assert error_of(field("text"), ["a"]) == "must be text"
    assert error_of(field("text"), True) == "must be text"


def test_text_pattern_must_match_whole_value():
    f = field("text", pattern=r"[A-Z]{3}-\d{4}")
    assert parse_fact(f, "POL-1234") == "POL-1234"
    assert error_of(f, "POL-1234x") == "is not in the expected format"


def test_broken_admin_pattern_is_a_message_not_a_crash():
    assert "pattern is broken" in error_of(field("text", pattern="([a-z"), "abc")


def test_number_keeps_whole_numbers_whole_and_checks_bounds():
    f = field("number", min_value=Decimal("1"), max_value=Decimal("10"))
    assert parse_fact(f, "7") == 7
    assert parse_fact(f, "2.5") == 2.5
    assert error_of(f, "0") == "must be at least 1"
    assert error_of(f, "11") == "must be at most 10"


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, "1e20"])
def test_number_rejects_what_is_not_a_usable_number(raw):
    assert error_of(field("number"), raw).startswith("must be a number")


def test_money_is_a_two_decimal_string_and_never_negative():
    assert parse_fact(field("money"), "1,250.5") == "1250.50"
    assert parse_fact(field("money"), 0) == "0.00"
    assert parse_fact(field("money"), "-0") == "0.00"
    assert error_of(field("money"), "-1") == "must be zero or more"
    assert error_of(field("money", max_value=Decimal("100")), "100.01") == "must be at most 100"


def test_date_reads_iso_dates_and_date_objects():
    assert parse_fact(field("date"), "2031-01-02") == "2031-01-02"
    assert parse_fact(field("date"), date(2031, 1, 2)) == "2031-01-02"
    assert parse_fact(field("date"), datetime(2031, 1, 2, 13, 0)) == "2031-01-02"
    assert error_of(field("date"), "02/01/2031") == "must be a date (YYYY-MM-DD)"
    assert error_of(field("date"), "2031-02-30") == "must be a date (YYYY-MM-DD)"


def test_future_only_date_refuses_today_and_the_past():
    f = field("date", future_only=True)
    assert parse_fact(f, "2030-06-16", TODAY) == "2030-06-16"
    assert error_of(f, "2030-06-15") == "must be in the future"
    assert error_of(f, datetime(2030, 6, 14, 23, 0)) == "must be in the future"


def test_choice_must_be_one_of_the_choices():
    f = field("choice", choices=["Accepted", "Revised"])
    assert parse_fact(f, " Revised ") == "Revised"
    assert error_of(f, "accepted") == "must be one of: Accepted, Revised"


def test_email_and_contact_are_normalised_to_lowercase():
    assert parse_fact(field("email"), " Pat@Example.COM ") == "pat@example.com"
    assert parse_fact(field("contact"), "Pat@Example.com") == "pat@example.com"
    assert error_of(field("email"), "pat@") == "must be an email address"
    assert error_of(field("contact"), "Dana <pat@>").startswith("has an email address that is not valid")


@pytest.mark.parametrize("raw,stored", [
    ("Dana Ortiz, CFO", "Dana Ortiz, CFO"),
    ("Dana Ortiz", "Dana Ortiz"),
    ("Dana Ortiz <Dana@Acme.example.com>, CFO", "Dana Ortiz <dana@acme.example.com>, CFO"),
    ("Dana Ortiz, dana@acme.example.com, CFO", "Dana Ortiz <dana@acme.example.com>, CFO"),
    ("dana@acme.example.com, CFO", "dana@acme.example.com, CFO"),
])
def test_contact_takes_a_name_with_optional_email_and_role(raw, stored):
    assert parse_fact(field("contact"), raw) == stored


@pytest.mark.parametrize("raw", [" , ", "<>", "Dana, Ortiz <a@b.example.com>, x@y.example.com", 42])
def test_contact_without_a_name_or_email_is_refused_with_an_example(raw):
    assert "Dana Ortiz, dana@acme.com, CFO" in error_of(field("contact"), raw)


@pytest.mark.parametrize("raw,stored", [("25k", "25000.00"), ("25,000", "25000.00"), ("$25,000", "25000.00"),
                                        ("$ 1,250.50", "1250.50"), ("1.5m", "1500000.00"), ("25K USD", "25000.00")])
def test_money_reads_amounts_as_people_write_them(raw, stored):
    assert parse_fact(field("money"), raw) == stored


@pytest.mark.parametrize("raw", ["2,50", "25 000", "k", "$", "-$5"])
def test_money_refuses_what_is_not_clearly_an_amount(raw):
    assert error_of(field("money"), raw)


@pytest.mark.parametrize("raw", ["https://example.com/doc", "http://example.com"])
def test_url_accepts_web_addresses(raw):
    assert parse_fact(field("url"), raw) == raw


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "ftp://example.com", "example.com", "http://",
                                 "http://[::1", "http://exa mple.com"])
def test_url_rejects_what_is_not_a_web_address(raw):
    assert error_of(field("url"), raw) == "must be a web address starting with http:// or https://"


def test_parse_facts_names_each_bad_and_unknown_field():
    fields = {"budget": field("money", key="budget"), "old": field("text", key="old", archived=True),
              "when": field("date", key="when")}
    clean, errors = parse_facts(fields, {"budget": "12", "when": "soon", "old": "x", "nope": 1})
    assert clean == {"budget": "12.00"}
    assert errors == {"when": "must be a date (YYYY-MM-DD)", "old": "is not a field of this pipeline",
                      "nope": "is not a field of this pipeline"}


def test_parse_facts_needs_an_object():
    assert parse_facts({}, ["budget"]) == ({}, {"facts": "must be an object of field keys to values"})
