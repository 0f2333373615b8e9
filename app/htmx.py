"""HTMX request detection, in one place (STYLE.md 8)."""

from flask import request


def is_htmx() -> bool:
    """Tell whether this request came from htmx (and not from a history restore)."""
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-History-Restore-Request") != "true"
    )


def add_vary(response):
    """Tell caches that a page and its partial differ by the HX-Request header."""
    response.vary.add("HX-Request")
    return response
