"""Reading API input: the JSON body, ids, times and query filters, with 400/422 on bad input."""

import json
from datetime import UTC, datetime

from flask import request

from app.api.errors import ApiInvalid, BadBody

MAX_ID = 2**31 - 1
MAX_PAGE = 100_000
PAGE_SIZE = 50


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def json_object() -> dict:
    """Return the request body as a JSON object; 400 bad_request when it is not one."""
    try:
        body = json.loads(request.get_data(cache=True) or b"", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadBody("The request body must be JSON.") from None
    if not isinstance(body, dict):
        raise BadBody("The request body must be a JSON object.")
    return body


def check_keys(body: dict, allowed, errors: dict, hints: dict | None = None) -> None:
    """Name every key the endpoint does not take, so a typo never passes silently."""
    for key in body:
        if key not in allowed:
            errors[str(key)[:64]] = (hints or {}).get(key, "is not a field this endpoint accepts")


def whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    return value


def is_text(value: str) -> bool:
    """Tell whether a string can be stored as UTF-8 (no lone surrogates such as "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    """Parse an ISO 8601 time with a UTC offset into naive UTC (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            errors[name] = "must include a UTC offset, e.g. 2024-05-01T09:30:00+00:00"
            return None
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        errors[name] = "must be an ISO 8601 date and time with a UTC offset"
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
