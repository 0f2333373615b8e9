"""Shared model pieces: UTC time and the tenant column."""

from datetime import UTC, datetime

from app.extensions import db
from app.timezones import utcnow

__all__ = ["TenantMixin", "iso", "utcnow"]


def iso(value: datetime | None) -> str | None:
    """Format a stored naive-UTC time as ISO 8601 with its offset."""
    return value.replace(tzinfo=UTC).isoformat() if value else None


class TenantMixin:
    """Every tenant-owned row carries its organisation."""

    org_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
