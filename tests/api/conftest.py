"""API fixtures: bearer-key headers (tests/conftest.py's key_for) by role, and row counting."""

import pytest

from app.extensions import db
from tests import factories


@pytest.fixture
def admin_h(key_for):
    return key_for("admin")


@pytest.fixture
def rep_h(key_for):
    return key_for("rep")


@pytest.fixture
def pipeline(org):
    return factories.pipeline(org)


def row_counts() -> dict:
    """Count the rows of every table, to prove a refused request wrote nothing."""
    db.session.expire_all()
    return {t.name: db.session.execute(db.select(db.func.count()).select_from(t)).scalar()
            for t in db.metadata.sorted_tables}


@pytest.fixture
def counts():
    return row_counts
