"""Cleaning what people type, one rule everywhere: trimmed text within its limit that any database stores.

Each cleaner takes the field's name and an `errors` dict, records why a value is refused there
(so one answer names every bad field) and returns the cleaned value; the caller raises
Invalid(errors) once it has read every field. The limits stay with each caller.
"""

import re
from datetime import date, datetime

from app.errors import Invalid

NOT_TEXT = "contains characters that are not text (is the page sent as UTF-8?)"
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def is_blank(value) -> bool:
    """None, or text of nothing but whitespace: a value nobody typed."""
    return value is None or (isinstance(value, str) and not value.strip())


def encodes(value: str) -> bool:
    """Whether a string can be stored as UTF-8 at all (no lone surrogate such as "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_text(value: str) -> bool:
    """No NUL, no lone surrogate, no U+FFFD (what a broken encoding decodes to)."""
    return not any(c in "\x00\ufffd" or 0xD800 <= ord(c) <= 0xDFFF for c in value)


def clean_text(value, name: str, errors: dict, limit: int, required: bool = False,
               replacement_ok: bool = False) -> str:
    """Return `value` trimmed; record in `errors[name]` why it is not text of at most `limit` characters.

    `replacement_ok` keeps U+FFFD (a sequence's subject and body have always taken it: an email
    pasted from elsewhere can hold one, and the API's document allows it there).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = "must be text"
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = "is required"
    elif len(value) > limit:
        errors[name] = f"must be at most {limit:,} characters"
    elif not is_text(value.replace("\ufffd", "") if replacement_ok else value):
        errors[name] = NOT_TEXT
    return value


def clean_int(value, name: str, errors: dict, low: int, high: int, default=None, required: bool = False):
    """Return `value` as a whole number from `low` to `high` (blank: `default`); record in `errors[name]` why not.

    Only ASCII digits with an optional minus count: `int()` would also take "1_000", "+5" and
    other scripts' digits, which nobody means in a form.
    """
    text = value.strip() if isinstance(value, str) else value
    if text is None or text == "":
        if required:
            errors[name] = f"must be a whole number from {low} to {high}"
        return default
    if isinstance(text, bool):
        number = None
    elif isinstance(text, int):
        number = text
    # JSON's 3.0 is a whole number too (as JSON Schema says).
    elif (isinstance(text, float) and text.is_integer()) or (isinstance(text, str) and WHOLE_NUMBER.fullmatch(text)):
        number = int(text)
    else:
        number = None
    if number is None or not low <= number <= high:
        errors[name] = f"must be a whole number from {low} to {high}"
        return default
    return number


def clean_title(title, limit: int) -> str:
    """Return a required title trimmed; raise Invalid naming `title` when it is blank or too long."""
    if not isinstance(title, str) or not title.strip():
        raise Invalid({"title": "is required"})
    if len(title.strip()) > limit:
        raise Invalid({"title": f"must be at most {limit} characters"})
    return title.strip()


def clean_day(value, name: str, message: str = "must be a date like 2026-12-01") -> date | None:
    """Return a day from a date, a datetime or YYYY-MM-DD text (blank: None); raise Invalid naming `name`."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid({name: message}) from None


def page_number(raw) -> int:
    """A list's `?page=`: ASCII digits from 1 to 99,999, anything else is page 1."""
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and 0 < int(raw) < 100_000 else 1
