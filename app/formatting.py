"""Template filters: money in the organisation's currency, relative dates."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import has_request_context, request

from app.timezones import utcnow

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "C$", "JPY": "¥", "INR": "₹"}


def money(amount, currency: str = "USD", compact: bool = False) -> str:
    """Format an amount like '$12,500' (no cents when whole) or compact '$12.5k'."""
    if amount is None or amount == "":
        return "—"
    if isinstance(amount, Decimal):  # the common case (a Numeric column): no round trip through text
        value = amount
    else:
        try:
            value = Decimal(str(amount))
        except InvalidOperation:  # not an amount (old or imported text): show it as it is
            return str(amount)
    symbol = SYMBOLS.get(currency, currency + " ")
    if compact and abs(value) >= 1000:
        for limit, suffix in ((Decimal(10**9), "bn"), (Decimal(10**6), "m"), (Decimal(1000), "k")):
            if abs(value) >= limit:
                short = (value / limit).quantize(Decimal("0.1")).normalize()
                return f"{symbol}{short:f}{suffix}"
    if value == value.to_integral_value():
        return f"{symbol}{value:,.0f}"
    return f"{symbol}{value:,.2f}"


def days_between(start: datetime, end: datetime | None = None) -> int:
    return max(0, ((end or utcnow()) - start).days)


def relative(value, now: datetime | None = None) -> str:
    """Say a date relative to now: 'today', 'in 3 days', '8 days ago'."""
    if value is None:
        return ""
    now = now or utcnow()
    target = value.date() if isinstance(value, datetime) else value
    days = (target - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def exact(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return ""


def day_month(value, today: date | None = None) -> str:
    """Say a day briefly: '3 Nov', with the year when it is not this year's ('3 Nov 2025')."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    text = f"{day.day} {day:%b}"
    return text if day.year == (today or utcnow().date()).year else f"{text} {day.year}"


def sentence(text) -> str:
    """Make a field message a sentence: "must be a number" -> "Must be a number.",
    "is needed to enter this stage" -> "Needed to enter this stage."."""
    text = str(text or "").strip()
    if text.startswith("is ") and len(text) > 3:
        text = text[3:]
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


_URL_CACHE_MAX = 256


def cached_url_for(flask_url_for):
    """Wrap Flask's url_for for templates: a URL without variable parts is built once per script root.

    Every page's layout asks for ~25 of them (stylesheets, scripts, the nav); werkzeug builds each
    from the URL map every time. Only plain calls are cached: no values (or a static file name),
    no `_external`/`_anchor`/... option and no blueprint-relative endpoint; anything else, or a
    call outside a request, goes to Flask as before.
    """
    cache: dict = {}

    def url_for(endpoint, **values):
        if not has_request_context() or endpoint[:1] == "." or \
                (values and (endpoint != "static" or len(values) != 1 or "filename" not in values)):
            return flask_url_for(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        url = cache.get(key)
        if url is None:
            url = flask_url_for(endpoint, **values)
            if len(cache) < _URL_CACHE_MAX:
                cache[key] = url
        return url

    return url_for


def init_app(app) -> None:
    app.jinja_env.filters.update(money=money, relative=relative, exact=exact, sentence=sentence, day_month=day_month)
    app.jinja_env.globals.update(days_between=days_between)
    app.jinja_env.globals["url_for"] = cached_url_for(app.jinja_env.globals["url_for"])
