"""API fixtures: bearer-key headers for a user of an organisation, and row counting."""

import pytest

from app.auth.service import create_api_key
from app.extensions import db
from tests import factories


@pytest.fixture
def key_for(org):
    """Return Authorization headers for a new key acting as `role` (or `who`) of `org`."""

    def make(role="admin", who=None, in_org=None):
        user = who or factories.user(in_org or org, role)
        raw, _ = create_api_key(user, f"{user.role} key")
        return {"Authorization": f"Bearer {raw}"}

    return make


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
