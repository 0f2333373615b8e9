"""Field patterns run on RE2: matching time grows linearly with the value, whatever the pattern.

An admin's pattern such as "(a+)+" takes exponential time on Python's backtracking `re`
(and stalls every request in the process); RE2 has no backtracking, so it cannot. The price:
RE2 has no lookarounds or backreferences, and such patterns are refused when saved.
"""

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the admin's message, not a server log line
_OPTIONS.max_mem = 8 << 20  # RE2's default program budget, stated: a pattern that needs more is refused


class PatternError(ValueError):
    """The pattern cannot be compiled; str() says why in words an admin can act on."""


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """Compile `pattern` with RE2 or raise PatternError."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(reason) from None
    except UnicodeEncodeError:
        raise PatternError("it contains characters that are not valid text") from None


def full_match(pattern: str, value: str) -> bool:
    """Tell whether the whole of `value` matches `pattern` (PatternError if it cannot be compiled).

    Raises UnicodeEncodeError for a value that is not valid text (a lone surrogate).
    """
    return compile_pattern(pattern).fullmatch(value) is not None
