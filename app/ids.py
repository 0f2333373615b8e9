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


def _at_most(limit: str) -> str:
    """A regex for the decimal numbers from 0 to `limit` (no leading zeros past one digit)."""
    options = [rf"\d{{1,{len(limit) - 1}}}"]
    for i, digit in enumerate(limit):
        low = "1" if i == 0 else "0"
        rest = len(limit) - i - 1
        if int(digit) > int(low):
            options.append(f"{limit[:i]}[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(limit)
    return "(?:" + "|".join(options) + ")"


class BoundedIntConverter(IntegerConverter):
    """The app's `<int:...>` converter: only numbers up to MAX_ID match, so a larger one is a 404.

    The bound is in the regex, not only in to_python: werkzeug turns a to_python refusal on one
    rule into a 405 when a sibling rule (GET /deals/<id> beside PATCH) matched the same path.
    """

    regex = _at_most(str(MAX_ID))

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
