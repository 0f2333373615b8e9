"""Deal room fixtures: an organisation whose article pipeline has its buyer marks, a deal in Qualified
ready to leave it, and the buyer's side driven through the real pages with CSRF on."""

import re

import pytest

from app.extensions import db
from tests import factories
from tests.api.conftest import row_counts  # noqa: F401 - re-exported for the tests here
from tests.sequences.conftest import smtp  # noqa: F401 - a real relay (fixture)


@pytest.fixture
def org(app):
    """The article pipeline as a new organisation gets it: DM meeting, proposal acknowledged, terms and
    contract signed are the buyer's to confirm."""
    return factories.make_org(templates=["article"], buyer_confirms=True)


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def deal(org):
    """A rep's deal in Qualified with every fact it needs to leave (none of them the buyer's)."""
    pipeline = factories.pipeline(org)
    made = factories.make_deal(org, owner=factories.user(org, "rep"))
    qualified = factories.stage(pipeline, "Qualified")
    from app.deals.service import update_deal

    update_deal(made, factories.user(org, "rep"), version=made.version,
                facts=factories.full_facts(pipeline, qualified, "exit"))
    return made


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def token_of(url: str) -> str:
    return url.rsplit("/r/", 1)[1]


def step_named(room_json: dict, title: str) -> dict:
    return next(s for s in room_json["steps"] if s["title"] == title)


def fresh(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)
