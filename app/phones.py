"""Phone numbers as people type them, read into E.164 (+14155552671) with the phonenumbers library."""

import phonenumbers
from flask import current_app, has_app_context
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers import timezone as number_zones

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def default_region() -> str:
    """Where a number typed without its +country code is read as being from (SMS_DEFAULT_REGION, else US)."""
    region = current_app.config.get("SMS_DEFAULT_REGION") if has_app_context() else ""
    return (region or "US").upper()


def parse(raw, region: str | None = None):
    """The number `raw` stands for, or None when it is not a valid phone number."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        return None
    try:
        number = phonenumbers.parse(raw, region or default_region())
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(raw, region: str | None = None) -> str | None:
    """`raw` in E.164, or None when it is not a valid phone number."""
    number = parse(raw, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else None


def stored(raw: str) -> str:
    """What a contact's phone field keeps: E.164 when the number is valid, else the text as typed."""
    return e164(raw) or raw


def mobile(raw, region: str | None = None) -> tuple[str | None, str]:
    """(E.164, "") for a number that can take texts, else (None, why not, in words)."""
    if not raw or not str(raw).strip():
        return None, "no phone number"
    number = parse(raw, region)
    if number is None:
        return None, "the phone number is not valid"
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None, "the phone number is not a mobile number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def zone_of(phone: str) -> str | None:
    """The one time zone a number belongs to, or None when its country or area spans several."""
    number = parse(phone)
    if number is None:
        return None
    zones = [z for z in number_zones.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else None
