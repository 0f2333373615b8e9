"""With CSRF protection ON, the board's HTMX move works with the header the page sends
(hx-headers on <body>), and the same request without it is refused."""

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Deal
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_board import drag


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def test_board_move_with_csrf_on_sends_the_token_header_and_lands(new_page, org, csrf_on):
    pipe = factories.pipeline(org)
    rep = factories.user(org, "rep")
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    ready = {**factories.full_facts(pipe, qualified, "exit"), **factories.full_facts(pipe, discovery, "entry")}
    deal = factories.make_deal(org, title="Token-carrying move", owner=rep, facts=ready)
    page = new_page(rep)  # signs in through the real form: its token is checked too
    page.goto(f"/deals/board/{pipe.id}")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith(f"/deals/{deal.id}/move")
            else None)
    drag(page, page.locator(f"#card-{deal.id}"), page.locator(f"#cards-{discovery.id}"))
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#col-head-{discovery.id}")).to_contain_text("1 deal")
    assert sent and sent[0].headers.get("x-csrftoken"), "the HTMX move must carry the page's token"
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage_id == discovery.id
    screenshot(page, "board-move-csrf-on")
    # The same request from the page's own origin without the header is refused, and moves nothing.
    status = page.evaluate("""async ([url, stage]) => (await fetch(url, {method: 'POST',
        headers: {'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'stage_id=' + stage})).status""", [f"/deals/{deal.id}/move", qualified.id])
    assert status == 400
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage_id == discovery.id
