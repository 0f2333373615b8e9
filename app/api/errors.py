"""JSON error bodies for the API: a bad body and any HTTP error raised in a view.

The domain errors (app/errors.py) get their one answer, JSON under /api/, in app/__init__.py.
"""

from flask import jsonify
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.errors import Invalid


class ApiInvalid(Invalid):
    """Bad request input found by the API layer (422 invalid)."""


class BadBody(Exception):
    """The body is not JSON or not an object (400 bad_request)."""


def error_response(status: int, code: str, message: str, **details):
    response = jsonify({"error": code, "message": message, **details})
    response.status_code = status
    return response


def invalid(fields: dict, message: str = "Some values are not valid."):
    return error_response(422, "invalid", message, fields=fields)


@bp.errorhandler(BadBody)
def on_bad_body(exc: BadBody):
    return error_response(400, "bad_request", str(exc))


@bp.errorhandler(HTTPException)
def on_http_error(exc: HTTPException):
    # The app answers the common codes (400/403/404/405/413/429/500) for every /api/ path;
    # this catches the rest (415, 401, ...) raised inside API views so none turns into HTML or a 500.
    code = exc.code or 500
    name = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(code, name, exc.description or exc.name or "Request failed.")
    for header, value in exc.get_headers():
        if header.lower() != "content-type":
            response.headers[header] = value
    return response
