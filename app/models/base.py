"""Shared model pieces: UTC time and the tenant column."""

from datetime import UTC, datetime

from app.extensions import db


def utcnow() -> datetime:
    """Return the current time as naive UTC (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """Format a stored naive-UTC time as ISO 8601 with its offset."""
    return value.replace(tzinfo=UTC).isoformat() if value else None


class TenantMixin:
    """Every tenant-owned row carries its organisation."""

    org_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
