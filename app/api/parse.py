"""Reading API input: the JSON body, ids, times and query filters, with 400/422 on bad input."""

import json
import re
from datetime import UTC, datetime

from flask import request

from app.api.errors import ApiInvalid, BadBody
from app.ids import MAX_ID

EMAIL_MAX = 254
AMOUNT_PATTERN = "^([0-9]{1,12}(\\.[0-9]{1,2})?)?$"  # "" is no amount
CURRENCY_PATTERN = "^([A-Za-z]{3})?$"  # "" is the organisation's currency
TIME_MAX = 64
# RFC 3339 date-time, which is what OpenAPI's "date-time" format means: the offset is required.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
MAX_PAGE = 100_000
PAGE_SIZE = 50


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def json_object() -> dict:
    """Return the request body as a JSON object; 400 bad_request when it is not one."""
    return parse_json_object(request.get_data(cache=True) or b"")


def parse_json_object(raw: bytes) -> dict:
    """Parse a body into a JSON object: 400 when it is not one, 422 naming a key holding a lone surrogate."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadBody("The request body must be JSON.") from None
    if not isinstance(body, dict):
        raise BadBody("The request body must be a JSON object.")
    if b"\\ud" not in raw and b"\\uD" not in raw:  # UTF-8 cannot carry one; only a \uD8xx-\uDFxx escape can
        return body
    bad = {str(key)[:64].encode("utf-8", "backslashreplace").decode(): SURROGATE_MESSAGE
           for key, value in body.items() if has_lone_surrogate(key) or has_lone_surrogate(value)}
    raise_if(bad)
    return body


# JSON may spell a lone UTF-16 surrogate ("\\ud800"); it is not text, cannot be stored in PostgreSQL
# or written as UTF-8, so it is refused with the key that holds it rather than stored or stripped.
SURROGATE_MESSAGE = "must be valid Unicode text (it contains a lone surrogate such as \\ud800)"


def has_lone_surrogate(value) -> bool:
    """Tell whether a parsed JSON value holds, at any depth, a string with a lone surrogate."""
    stack = [value]  # iterative: a deeply nested body must not exhaust the recursion limit
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_keys(body: dict, allowed, errors: dict, hints: dict | None = None) -> None:
    """Name every key the endpoint does not take, so a typo never passes silently."""
    for key in body:
        if key not in allowed:
            errors[str(key)[:64]] = (hints or {}).get(key, "is not a field this endpoint accepts")


def whole_number(value) -> bool:
    """A JSON integer: 3, or 3.0 (JSON Schema's "integer" counts a zero fraction as one)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def version_value(body: dict, errors: dict, required: bool):
    """The deal version the caller read, as an int (None when absent and optional)."""
    value = body.get("version")
    if value is None:
        if required:
            errors["version"] = "is required (the version you read)"
        return None
    if not whole_number(value):
        errors["version"] = "must be a whole number"
        return None
    return int(value)


def id_value(body: dict, name: str, errors: dict, required: bool = False):
    """Return a positive integer id from the body (None when absent), or record why not."""
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "is required"
        return None
    if not whole_number(value) or not 1 <= value <= MAX_ID:
        errors[name] = "must be a positive whole number"
        return None
    return int(value)


def text_value(body: dict, name: str, errors: dict, limit: int = 10_000):
    """Return an optional string from the body (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    if len(value) > limit:
        errors[name] = f"must be at most {limit:,} characters"
        return None
    if "\x00" in value:
        errors[name] = "must not contain NUL characters"
        return None
    return value


def object_value(body: dict, name: str, errors: dict):
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        errors[name] = "must be an object of field keys to values"
        return None
    return value


def time_value(body: dict, name: str, errors: dict):
    """Parse an RFC 3339 date-time (a UTC offset is required) into naive UTC (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > TIME_MAX or not RFC3339.fullmatch(value):
        errors[name] = "must be an ISO 8601 date and time with a UTC offset, e.g. 2024-05-01T09:30:00+00:00"
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        errors[name] = "is not a real date and time"
        return None


def query_text(name: str, errors: dict, limit: int = 254) -> str:
    raw = request.args.get(name, "")
    if len(raw) > limit or "\x00" in raw:
        errors[name] = f"must be at most {limit} characters of text"
        return ""
    return raw.strip()


def query_id(name: str, errors: dict):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        errors[name] = "must be a positive whole number"
        return None
    return int(raw)


def query_page(errors: dict) -> int:
    raw = request.args.get("page")
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        errors["page"] = f"must be a whole number from 1 to {MAX_PAGE}"
        return 1
    return int(raw)


def query_choice(name: str, choices, errors: dict):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        errors[name] = "must be one of: " + ", ".join(choices)
        return None
    return raw


def raise_if(errors: dict) -> None:
    if errors:
        raise ApiInvalid(errors)


def paginate(query, page: int, serialize) -> dict:
    """Return one page of `query` (already ordered) as {"items", "next_page"}."""
    rows = query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1).all()
    return {
        "items": [serialize(row) for row in rows[:PAGE_SIZE]],
        "next_page": page + 1 if len(rows) > PAGE_SIZE else None,
    }
