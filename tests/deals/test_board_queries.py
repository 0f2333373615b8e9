"""The board needs a fixed, small number of SQL statements whatever the number of deals."""

import contextlib
import re

from flask import g
from sqlalchemy import event

from app.deals.service import create_deal
from app.extensions import db
from app.models import Company, Organization
from tests import factories


@contextlib.contextmanager
def count_queries():
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def add_deals(org_id, n, start=0):
    """Spread `n` deals over the open stages, with companies and several owners."""
    org = db.session.get(Organization, org_id)
    pipeline = factories.pipeline(org)
    admin = factories.user(org, "admin")
    owners = [factories.user(org, r) for r in ("admin", "manager", "rep")]
    for i in range(start, start + n):
        company = Company(org_id=org.id, name=f"Company {i}")
        db.session.add(company)
        db.session.flush()
        stage = pipeline.open_stages[i % len(pipeline.open_stages)]
        facts = factories.facts_from_start(pipeline, stage)
        deal = create_deal(pipeline, admin, title=f"Deal {i}", stage=stage, owner=owners[i % 3],
                           amount=str(100 + i), facts=facts)
        deal.company_id = company.id
        db.session.commit()


def fresh_request():
    """Make the next request load everything itself, as in production (the test shares its session)."""
    db.session.expunge_all()
    g.pop("_login_user", None)


def board_queries(client, pipeline_id, **params):
    fresh_request()
    with count_queries() as statements:
        response = client.get(f"/deals/board/{pipeline_id}", query_string=params)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def test_board_query_count_is_the_same_for_5_and_60_deals_and_at_most_10(client, login_as, org):
    login_as("manager")
    org_id, pipeline_id = org.id, factories.pipeline(org).id
    add_deals(org_id, 5)
    few, page = board_queries(client, pipeline_id)
    assert len(re.findall(r'class="card[ "]', page)) == 5
    add_deals(org_id, 55, start=5)
    many, page = board_queries(client, pipeline_id)
    assert len(re.findall(r'class="card[ "]', page)) == 60  # 15 per open stage, under one page
    assert few == many
    assert many <= 10, many


def test_filtered_board_and_load_more_stay_within_the_budget(app, client, login_as, org):
    login_as("manager")
    org_id, pipeline_id = org.id, factories.pipeline(org).id
    add_deals(org_id, 30)
    count, page = board_queries(client, pipeline_id, q="Company 1", owner="all")
    assert count <= 10 and "Deal 1" in page
    app.config["BOARD_PAGE_SIZE"] = 2
    try:
        _, page = board_queries(client, pipeline_id)
        url = re.search(r'hx-get="(/deals/board/\d+/column/\d+\?[^"]+)"', page).group(1)
        fresh_request()
        with count_queries() as statements:
            response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200 and len(statements) <= 8
    finally:
        app.config["BOARD_PAGE_SIZE"] = 20


def test_a_column_page_is_a_keyset_query_not_an_offset(client, login_as, org):
    login_as("manager")
    org_id, pipeline_id = org.id, factories.pipeline(org).id
    add_deals(org_id, 8)
    stage_id = factories.pipeline(db.session.get(Organization, org_id)).open_stages[0].id
    _, page = board_queries(client, pipeline_id)
    cursor_cards = re.findall(r'id="card-(\d+)"', page)
    assert cursor_cards
    with count_queries() as statements:
        client.get(f"/deals/board/{pipeline_id}/column/{stage_id}?after=2000-01-01T00:00:00_1")
    card_sql = [s.upper() for s in statements if "deal.stage_entered_at" in s]
    assert len(card_sql) == 1
    # SQLite always prints "OFFSET ?" (bound to 0); the page starts from the cursor's key instead.
    assert re.search(r"DEAL\.STAGE_ENTERED_AT < (\?|%\(AFTER_AT\)S)", card_sql[0])
    assert re.search(r"DEAL\.ID < (\?|%\(AFTER_ID\)S)", card_sql[0])
