"""The forecast by expected close date in real Chromium: its chart and table on a phone and a desktop."""

from datetime import datetime

import pytest

from app.extensions import db
from app.reports.service import add_months
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations


@pytest.mark.parametrize("viewport,name", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_manager_reads_the_forecast_by_expected_close_date(new_page, org, viewport, name):
    month = datetime.utcnow().date().replace(day=1)  # the organisation is on UTC
    for stage, amount, expected in (("Proposal", "10000", month), ("Negotiation", "40000", add_months(month, 4)),
                                    ("Discovery", "8000", None)):
        deal = factories.make_deal(org, stage_name=stage, amount=amount, title=f"{stage} deal")
        deal.expected_close_date = expected
    db.session.commit()
    page = new_page(factories.user(org, "manager"), viewport=viewport)
    page.goto(f"/reports/{factories.pipeline(org).id}")
    section = page.locator("section[aria-labelledby=h-close]")
    section.get_by_role("heading", name="Forecast by expected close date").wait_for()
    assert section.locator("svg[role=img]").count() == 1
    table = section.get_by_role("table")
    # 10,000 at 50 % + 40,000 at 75 % + 8,000 at 25 % = 37,000 weighted.
    assert "$37,000" in table.get_by_role("row", name="All open deals").inner_text()
    assert "$5,000" in table.get_by_role("row", name="This month").inner_text()
    assert section.get_by_role("link", name="Download CSV").is_visible()
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    section.scroll_into_view_if_needed()
    screenshot(page, f"reports-forecast-by-close-{name}")
