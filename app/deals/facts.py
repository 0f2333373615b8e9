"""Typed deal facts: parse and validate a value against its field definition."""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from email_validator import EmailNotValidError, validate_email

from app.pipelines.patterns import PatternError, full_match
from app.text import encodes, is_blank

MAX_TEXT = 500
MAX_LONG_TEXT = 10_000
TRUE_WORDS = {"true", "on", "y", "yes", "1"}
FALSE_WORDS = {"false", "off", "n", "no", "0", ""}


class FactError(ValueError):
    """A value that does not fit its field; the message is shown beside the field."""


def is_met(field, value) -> bool:
    """Tell whether a stored value satisfies a requirement on `field`."""
    if field.type == "checkbox":
        return value is True
    return not is_blank(value)


def _bounds(field, number) -> None:
    if field.min_value is not None and number < Decimal(field.min_value):
        raise FactError(f"must be at least {field.min_value.normalize():f}")
    if field.max_value is not None and number > Decimal(field.max_value):
        raise FactError(f"must be at most {field.max_value.normalize():f}")


_MONEY = re.compile(r"([-+]?)\s*[$€£]?\s*([-+]?[0-9][0-9,]*(?:\.[0-9]+)?|[-+]?\.[0-9]+)\s*([kKmM]?)\s*(?:USD|EUR|GBP)?",
                    re.IGNORECASE)
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000}


def _money_text(raw) -> str:
    """Read money as people write it ("25k", "25,000", "$25,000", "1.5m") as a plain number string."""
    text = str(raw).strip()
    found = _MONEY.fullmatch(text) if len(text) <= 40 else None
    if not found:
        return text
    sign, digits, scale = found.groups()
    if "," in digits and not re.fullmatch(r"[-+]?[0-9]{1,3}(,[0-9]{3})*(\.[0-9]+)?", digits):
        raise FactError("must be an amount like 25000, 25,000, $25,000 or 25k")
    number = Decimal(digits.replace(",", "")) * _SCALE[scale.lower()]
    return f"{sign}{number}"


def _decimal(raw, money=False) -> Decimal:
    if isinstance(raw, bool):
        raise FactError("must be a number")
    if money and isinstance(raw, str):
        raw = _money_text(raw)
    try:
        number = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise FactError("must be a number") from None
    if not number.is_finite() or abs(number) >= Decimal("1e13"):
        raise FactError("must be a number below 10,000,000,000,000")
    return number


def _text(field, raw, limit) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise FactError("must be text")
    value = str(raw).strip()
    if not value.isascii() and not encodes(value):
        raise FactError("must be valid text (it contains a broken character such as a lone surrogate)")
    if len(value) > limit:
        raise FactError(f"must be at most {limit:,} characters")
    if field.pattern and value:
        try:
            matched = full_match(field.pattern, value)  # RE2: linear time, whatever the pattern
        except PatternError:  # saved before RE2 checked patterns: a message, never a 500
            raise FactError("cannot be checked: the field's pattern is broken; ask an admin") from None
        except UnicodeEncodeError:
            raise FactError("contains characters that are not valid text") from None
        if not matched:
            raise FactError("is not in the expected format")
    return value


def parse_fact(field, raw, today: date | None = None):
    """Return the stored form of `raw` for `field`, None when empty; raise FactError."""
    if field.type == "checkbox":
        if isinstance(raw, bool):
            return raw
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in FALSE_WORDS):
            return False
        if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS:
            return True
        raise FactError("must be true or false")
    if is_blank(raw):
        return None
    kind = field.type
    if kind == "text":
        return _text(field, raw, MAX_TEXT)
    if kind == "long_text":
        return _text(field, raw, MAX_LONG_TEXT)
    if kind in ("number", "money"):
        number = _decimal(raw, money=kind == "money")
        if kind == "money" and number < 0:
            raise FactError("must be zero or more")
        if number == 0:
            number = abs(number)  # "-0" is zero, not a negative amount
        _bounds(field, number)
        if kind == "money":
            return f"{number.quantize(Decimal('0.01')):f}"
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        if isinstance(raw, datetime):  # a datetime is a date too, but compares only with datetimes
            value = raw.date()
        elif isinstance(raw, date):
            value = raw
        else:
            try:
                value = date.fromisoformat(str(raw).strip())
            except ValueError:
                raise FactError("must be a date (YYYY-MM-DD)") from None
        if field.future_only and value <= (today or date.today()):
            raise FactError("must be in the future")
        return value.isoformat()
    if kind == "choice":
        value = str(raw).strip()
        if value not in (field.choices or []):
            raise FactError("must be one of: " + ", ".join(field.choices or []))
        return value
    if kind == "contact":
        return parse_contact(raw)
    if kind == "email":
        try:
            return validate_email(str(raw).strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            raise FactError("must be an email address") from None
    if kind == "url":
        value = _text(field, raw, MAX_TEXT)
        try:
            parts = urlparse(value)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            raise FactError("must be a web address starting with http:// or https://") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise FactError("must be a web address starting with http:// or https://")
        return value
    raise FactError("has an unknown type")


CONTACT_HINT = "a name, an email address, or both, with an optional role (Dana Ortiz, dana@acme.com, CFO)"
_ANGLE = re.compile(r"<([^<>]*)>")


def _email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise FactError(f"has an email address that is not valid: write {CONTACT_HINT}") from None


def split_contact(value: str) -> tuple:
    """Split a contact fact into (name, email, role); each may be empty.

    Accepts "Dana Ortiz", "Dana Ortiz, CFO", "dana@acme.com", "Dana Ortiz <dana@acme.com>, CFO"
    and "Dana Ortiz, dana@acme.com, CFO": the part with an @ is the email, the first other part
    the name, the rest the role.
    """
    text = str(value).strip()
    email = ""
    angle = _ANGLE.search(text)
    if angle:
        email = angle.group(1)
        text = (text[:angle.start()] + text[angle.end():]).strip()
    parts = [p.strip() for p in text.split(",")]
    others = []
    for part in parts:
        if "@" in part and not email:
            email = part
        elif part:
            others.append(part)
    if parts and parts[0] == email:  # "dana@acme.com, CFO": no name, the rest is the role
        return "", email.strip(), ", ".join(others)
    name = others[0] if others else ""
    role = ", ".join(others[1:])
    return name, email.strip(), role


def parse_contact(raw) -> str:
    """Return a contact fact in its stored form ("Dana Ortiz <dana@acme.com>, CFO"); raise FactError."""
    if not isinstance(raw, str):
        raise FactError(f"must be {CONTACT_HINT}")
    if len(raw) > MAX_TEXT:
        raise FactError(f"must be at most {MAX_TEXT:,} characters")
    if "\x00" in raw:  # PostgreSQL cannot even look such a name up (a 500)
        raise FactError("must not contain NUL characters")
    name, email, role = split_contact(raw)
    email = _email(email) if email else ""
    if "@" in name or "@" in role or any(c in name + role for c in "<>"):
        raise FactError(f"must be {CONTACT_HINT}")
    if not name and not email:
        raise FactError(f"must be {CONTACT_HINT}")
    if len(name) > 200 or len(role) > 120:
        raise FactError("has a name over 200 or a role over 120 characters")
    if not name:
        return email + (f", {role}" if role else "")
    return name + (f" <{email}>" if email else "") + (f", {role}" if role else "")


def parse_facts(fields_by_key: dict, raw: dict, today: date | None = None):
    """Validate a {key: value} mapping; return (clean, errors). Unknown keys are errors."""
    clean, errors = {}, {}
    if not isinstance(raw, dict):
        return {}, {"facts": "must be an object of field keys to values"}
    for key, value in raw.items():
        field = fields_by_key.get(key)
        if field is None or field.archived:
            errors[str(key)[:64]] = "is not a field of this pipeline"
            continue
        try:
            clean[key] = parse_fact(field, value, today)
        except FactError as exc:
            errors[key] = str(exc)
    return clean, errors
