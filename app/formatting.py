"""Template filters: money in the organisation's currency, relative dates."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.models import utcnow

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "C$", "JPY": "¥", "INR": "₹"}


def money(amount, currency: str = "USD", compact: bool = False) -> str:
    """Format an amount like '$12,500' (no cents when whole) or compact '$12.5k'."""
    if amount is None or amount == "":
        return "—"
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


def init_app(app) -> None:
    app.jinja_env.filters.update(money=money, relative=relative, exact=exact, sentence=sentence)
    app.jinja_env.globals.update(days_between=days_between)
