"""Row ids from untrusted input: bounded to the database's 32-bit INTEGER keys.

PostgreSQL refuses a comparison with an integer past 2**31 - 1 ("integer out of range"),
so an id that large cannot exist and must read as "no such row" (404), never reach SQL.
"""

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def parse_id(raw) -> int | None:
    """Return `raw` (an int or a string of ASCII digits) as an id from 1 to MAX_ID, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= MAX_ID else None
    text = str(raw if raw is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class BoundedIntConverter(IntegerConverter):
    """The app's `<int:...>` converter: a number past the id range does not match (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
