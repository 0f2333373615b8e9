"""Time: now as the naive UTC every row stores, and an organisation's zone against it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """Return the current time as naive UTC (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone `name`; UTC when it is unset or not a zone this machine knows."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in `zone` as the naive UTC time rows store."""
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
