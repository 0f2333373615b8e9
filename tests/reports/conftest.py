"""The reports tests' shared data: forty random stage histories across four owners, New York time."""

from datetime import datetime, timedelta

import pytest

from app.extensions import db
from tests import factories
from tests.reports.history import random_histories, second_rep

ZONE = "America/New_York"


@pytest.fixture
def book(org):
    """Forty random stage histories across four owners, in an organisation on New York time (the
    known-answer tests' data); `query` is its 30-day period as API parameters."""
    org.timezone = ZONE
    db.session.commit()
    owners = [factories.user(org, "rep"), second_rep(org), factories.user(org, "manager"),
              factories.user(org, "admin")]
    start_day = datetime.utcnow().date() - timedelta(days=40)
    random_histories(org, owners, datetime(start_day.year, start_day.month, start_day.day, 12), 40)
    end_day = start_day + timedelta(days=30)
    return {"org": org, "pipeline": factories.pipeline(org), "start": start_day, "end": end_day, "owners": owners,
            "query": f"from={start_day.isoformat()}&to={end_day.isoformat()}"}
