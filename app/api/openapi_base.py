"""Building blocks of the OpenAPI document, shared by every area's `openapi_<area>.py`.

The bounds here are the ones the API enforces (`app/api/parse.py`, the services), imported
from where they are enforced, so the document cannot promise more or less than the code does.
schemathesis checks both directions in the suite (tests/api/test_schemathesis.py).
"""

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from app.api.parse import EMAIL_MAX, MAX_PAGE
from app.ids import MAX_ID

# Every error body: {"error": <code>, "message": <human text>, ...details}.
ERROR_CODES = {
    "400": ["bad_request"],
    "401": ["unauthorized"],
    "403": ["forbidden"],
    "404": ["not_found"],
    "405": ["method_not_allowed"],
    "409": ["conflict"],
    "413": ["too_large"],
    "422": ["invalid"],
    "429": ["rate_limited"],
}
NO_NUL = "^[^\\x00]*$"  # the API refuses NUL characters in text
# What Python's str.strip() trims: Unicode white space (\\s in JavaScript and Rust patterns), \\x1c-\\x1f and
# \\x85 (NEL: white space to Python, not to ECMA-262's \\s nor to Hypothesis's generator, which made a subject
# of only such characters that the API, rightly, found blank).
TRIMMED = "[\\s\\x1c-\\x1f\\x85]"
SHOWN = "[^\\s\\x00\\x1c-\\x1f\\x85]"  # a character that is neither trimmed nor NUL
NOT_BLANK = f"^[^\\x00]*{SHOWN}[^\\x00]*$"
ONE_LINE = f"^{TRIMMED}*{SHOWN}(?:[^\\n\\x00]*{SHOWN})?{TRIMMED}*$"  # not blank; no line break once trimmed


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def error(status: str, description: str, schema: str | None = None) -> dict:
    """A documented error answer: the shared Error schema narrowed to the codes of `status`."""
    return json_response(ref(schema) if schema else error_schema(*ERROR_CODES[status]), description)


def error_schema(*codes: str, **details) -> dict:
    return {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"enum": list(codes)}, "message": {"type": "string"}, **details},
    }


def nullable(schema: dict) -> dict:
    """`schema` or null (an absent optional key and an explicit null mean the same)."""
    kind = schema.get("type")
    if kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def text(max_length: int, *, min_length: int = 0, blank: bool = True, **extra) -> dict:
    """A string of at most `max_length` characters, without NUL; `blank=False`: not only spaces."""
    pattern = NO_NUL if blank else NOT_BLANK
    return {"type": "string", "maxLength": max_length, "minLength": min_length, "pattern": pattern, **extra}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _any_case(word: str) -> str:
    # ECMA-262 patterns (JSON Schema's) have no inline (?i) flag.
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def email_pattern(forbidden: str = "") -> str:
    """The addresses the API takes (email-validator's rules, app/contacts/service.clean_email) as a pattern.

    A dot-atom local part (no quotes, no spaces, no leading, trailing or doubled dot); a domain name
    with at least one dot, letters, digits and inner hyphens in each label, no IP literal; a top-level
    domain that is not all digits and not a special-use name (.test, .invalid, ...: no mail reaches
    them). Spaces around the address are trimmed. `forbidden` (pattern-escaped characters) is refused
    anywhere. tests/api/test_openapi.py checks the pattern against the validator both ways.
    """
    local = '[^\\s\\x00-\\x1f\\x7f"(),.:;<>@\\[\\\\\\]]+'
    # A letter or digit, ASCII or not: everything but ASCII punctuation, controls and spaces (a negated
    # class: a \\u00a1-\\uffff range made generating from the document ~8 times slower).
    edge = "[^\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x9f\\s]"
    label = f"{edge}(?:[^\\x00-\\x2c\\x2e\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x9f\\s]*{edge})?"
    special = "|".join(_any_case(name) for name in sorted(SPECIAL_USE_DOMAIN_NAMES))
    none_of = f"(?=[^{forbidden}]*$)" if forbidden else ""
    trim = TRIMMED + "*"
    return (f"^{none_of}{trim}{local}(?:\\.{local})*@(?:{label}\\.)+"
            f"(?!(?:{special}){trim}$)(?![0-9]+{trim}$){label}{trim}$")


EMAIL_DESCRIPTION = (
    "An email address: a dot-atom before the @ (no quoted part), a domain name after it (no IP "
    "literal) with at least one dot, whose last label is not all digits and not a special-use name "
    "that cannot receive mail (" + ", ".join(f".{name}" for name in sorted(SPECIAL_USE_DOMAIN_NAMES)) + "). "
    "Spaces around it are trimmed; it is kept in lower case.")


def email(forbidden: str = "") -> dict:
    """An email address as the API takes it (see email_pattern)."""
    return {"type": "string", "format": "email", "maxLength": EMAIL_MAX, "pattern": email_pattern(forbidden),
            "description": EMAIL_DESCRIPTION}


EMAIL = email()
TIME = {"type": "string", "format": "date-time",
        "description": "RFC 3339 / ISO 8601 date and time with a UTC offset, e.g. 2024-05-01T09:30:00+00:00."}
NULLABLE_TIME = nullable(TIME)


def path_id(name: str, description: str = "") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID,
            **({"description": description} if description else {})}


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def query_id(name: str, description: str) -> dict:
    return query(name, ID, description)


def query_email(name: str, description: str) -> dict:
    # Any text up to the length bound is taken (an unknown owner simply matches nothing).
    return query(name, text(EMAIL_MAX), description)


PAGE = query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number (50 items a page).")


def page_of(item: str) -> dict:
    return {"type": "object", "required": ["items", "next_page"],
            "properties": {"items": {"type": "array", "items": ref(item)},
                           "next_page": {"type": ["integer", "null"], "minimum": 2}}}


def body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


SCHEMAS = {
    "Error": error_schema(*sorted({code for codes in ERROR_CODES.values() for code in codes})),
    "Invalid": {
        "type": "object", "required": ["error", "message", "fields"],
        "properties": {"error": {"const": "invalid"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"},
                                  "description": "Every bad field with what is wrong with it."}},
    },
    "GateRefused": {
        "type": "object", "required": ["error", "message", "missing", "fields"],
        "properties": {
            "error": {"const": "gate"}, "message": {"type": "string"},
            "missing": {"type": "array", "items": {
                "type": "object", "required": ["field", "label", "when", "stage_id"],
                "properties": {"field": {"type": "string"}, "label": {"type": "string"},
                               "when": {"enum": ["entry", "exit"]}, "stage_id": {"type": "integer"},
                               "buyer": {"const": True, "description": "Only the buyer's confirmation in the "
                                                                      "deal room meets it (or an override)."}}}},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Conflict": error_schema("conflict", deal_id={"type": "integer"}),
    "RateLimited": error_schema("rate_limited"),
}

RATE_LIMITED = json_response(ref("RateLimited"), "Too many requests for this key (API_RATE_LIMIT, across every "
                             "endpoint), or too many answered 401 from this address (API_AUTH_FAIL_LIMIT): "
                             "then every request from it waits, a valid key's too.", headers={
    "Retry-After": {"schema": {"type": "integer", "minimum": 0}, "description": "Seconds to wait."}})
UNPROCESSABLE = json_response({"oneOf": [ref("Invalid"), ref("GateRefused")]},
                              "Invalid fields (error 'invalid'), or the gate refused (error 'gate').")
