"""Criteria change log fixtures: a Discovery stage with deals seeded around a change 45 days ago."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import utcnow
from tests import factories
from tests.reports.history import make_history


@pytest.fixture
def seeded(org):
    """An organisation on Los Angeles time and, around a moment `at` 45 days ago, Discovery's deals:
    before it 3 entered (1 advanced) and 2 completed stays (4 and 2 days); after it 1 entered and
    advanced, with one 2-day stay."""
    org.timezone = "America/Los_Angeles"
    db.session.commit()
    rep = factories.user(org, "rep")
    at = (utcnow() - timedelta(days=45)).replace(hour=20, minute=0, second=0, microsecond=0)
    d = timedelta(days=1)
    make_history(org, rep, [("Qualified", at - 20 * d), ("Discovery", at - 19 * d), ("Proposal", at - 15 * d)],
                 title="A")
    make_history(org, rep, [("Qualified", at - 10 * d), ("Discovery", at - 9 * d)], title="B")
    make_history(org, rep, [("Discovery", at - 5 * d), ("Closed Lost", at - 3 * d)], title="C")
    make_history(org, rep, [("Qualified", at + 2 * d), ("Discovery", at + 3 * d), ("Proposal", at + 5 * d)],
                 title="D")
    pipeline = factories.pipeline(org)
    return {"org": org, "pipeline": pipeline, "stage": factories.stage(pipeline, "Discovery"), "at": at}


@pytest.fixture
def counts():
    from tests.api.conftest import row_counts

    return row_counts
