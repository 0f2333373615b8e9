"""Redirects to a target the user gave (a sign-in's `next`, a form's `next`, the Referer): this site only.

Browsers read a Location header loosely: they drop tabs and newlines, read a backslash as a
slash and `//host` as another site, and some proxies and frameworks decode `%2F` or `%09` once
more. So a target is never repaired: one that holds anything a browser or proxy could read as
another host is refused, and the caller sends the user to its default page instead.
"""

import re
from urllib.parse import unquote, urlsplit

from flask import request

MAX_TARGET = 2000
# Printable ASCII without the backslash: what a path and query this site builds ever hold
# (url_for and Flask-Login percent-encode everything else).
_PRINTABLE = re.compile(r"[\x21-\x5b\x5d-\x7e]*")
# Control characters (C0, DEL, C1), every Unicode space and the backslash, once decoded.
_DECODED_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\\\s]")
_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")
_MAX_DECODES = 4


def _safe_path(path: str) -> bool:
    """A path that stays one on this site however often it is decoded: `/x`, never `//x`, `/./`, `/\\`."""
    for _ in range(_MAX_DECODES):
        if not path.startswith("/") or "//" in path or _DOT_SEGMENT.search(path) or _DECODED_BAD.search(path):
            return False
        decoded = unquote(path)
        if decoded == path:
            return True
        path = decoded
    return False  # still decoding after several rounds: nobody writes that by hand


def safe_next(target) -> str | None:
    """Return `target` when it is a path on this site (with its query), else None."""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET:
        return None
    if not _PRINTABLE.fullmatch(target):  # whitespace, control characters, backslashes, non-ASCII
        return None
    # The path is read from the text itself, not from urlsplit: it reads "///host" as an empty
    # authority and the path "/host", which a browser follows to the host.
    path = re.split(r"[?#]", target, maxsplit=1)[0]
    return target if _safe_path(path) else None


def same_site_referrer() -> str | None:
    """The Referer's path and query when it is a page of this site; None for any other site."""
    try:
        parts = urlsplit(request.referrer or "")
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
