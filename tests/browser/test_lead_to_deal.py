"""A lead becomes a deal in real Chromium, at desktop and phone size: "Create deal" on the lead's
page, the form with the person, owner and lead facts filled in, the deal page saying so."""

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Deal
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations

DESKTOP = {"width": 1366, "height": 768}


@pytest.mark.parametrize("viewport, role", [(DESKTOP, "manager"), (PHONE, "rep")], ids=["desktop", "phone"])
def test_create_deal_from_a_leads_page(new_page, org, viewport, role):
    rep = factories.user(org, "rep")
    lead = factories.make_contact(org, email="dana@harbor.example", name="Dana Ortiz", title="CFO",
                                  company="Harbor Fitness", owner_id=rep.id,
                                  lead_facts={"icp_fit": "yes", "pain": "Members churn after three months"})
    lead_id = lead.id
    page = new_page(factories.user(org, role), viewport=viewport)
    page.goto(f"/contacts/{lead_id}")
    no_sideways_scroll(page)
    screenshot(page, f"lead-to-deal-lead-page-{role}")
    page.get_by_role("button", name="Create deal").click()
    page.wait_for_url(lambda url: "/deals/new" in url)
    expect(page.get_by_label("Person", exact=True)).to_have_value("Dana Ortiz <dana@harbor.example>, CFO")
    expect(page.get_by_label("Company", exact=True)).to_have_value("Harbor Fitness")
    owner = page.get_by_label("Owner", exact=True)
    expect(owner.locator("option:checked")).to_have_text(rep.name + (" (you)" if role == "rep" else ""))
    # What the lead told us, offered for the first stage's criteria; the rep confirms by submitting.
    expect(page.get_by_label("ICP confirmed (Qualified entry)")).to_be_checked()
    expect(page.get_by_label("Pain identified (Qualified entry)")).to_have_value("Members churn after three months")
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    screenshot(page, f"lead-to-deal-form-{role}")
    page.get_by_label("Expected close date").fill("2031-06-30")
    page.get_by_role("button", name="Create deal").click()
    page.wait_for_url(lambda url: "/deals/new" not in url)
    expect(page.locator("#flashes")).to_contain_text("Deal created in Qualified: Harbor Fitness.")
    expect(page.locator(".deal-person")).to_contain_text("Person: Dana Ortiz (CFO)")
    expect(page.get_by_label("Expected close date")).to_have_value("2031-06-30")
    no_sideways_scroll(page)
    screenshot(page, f"lead-to-deal-created-{role}")
    db.session.expire_all()
    deal = Deal.query.filter_by(org_id=org.id, title="Harbor Fitness").one()
    assert (deal.contact_id, deal.owner_id) == (lead_id, rep.id)
    page.goto(f"/contacts/{lead_id}")
    expect(page.locator(f'.records a[href="/deals/{deal.id}"]')).to_have_text("Harbor Fitness")  # its deals list
