"""Building blocks of the OpenAPI document, shared by every area's `openapi_<area>.py`.

The bounds here are the ones the API enforces (`app/api/parse.py`, the services), imported
from where they are enforced, so the document cannot promise more or less than the code does.
schemathesis checks both directions in the suite (tests/api/test_schemathesis.py).
"""

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
    pattern = NO_NUL if blank else "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    return {"type": "string", "maxLength": max_length, "minLength": min_length, "pattern": pattern, **extra}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
EMAIL = {"type": "string", "format": "email", "maxLength": EMAIL_MAX}
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
                               "when": {"enum": ["entry", "exit"]}, "stage_id": {"type": "integer"}}}},
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
