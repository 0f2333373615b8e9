"""A valid sample value for any field definition."""

from datetime import date, timedelta


def sample_value(field):
    return {
        "checkbox": True,
        "text": "Agreed next steps",
        "long_text": "Documented in detail.",
        "number": 5,
        "money": "25000.00",
        "date": (date.today() + timedelta(days=30)).isoformat(),
        "choice": (field.choices or ["x"])[0],
        "contact": "pat.buyer@example.com",
        "email": "someone@example.com",
        "url": "https://example.com/doc",
    }[field.type]
