"""A rep on a phone sets booking hours, books a meeting from the deal page and cancels it, with real clicks."""

from playwright.sync_api import expect

from app.extensions import db
from app.models import Meeting
from tests import factories
from tests.booking.conftest import every_day, set_hours
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot


def test_rep_on_a_phone_books_and_cancels_a_meeting(new_page, org):
    rep = factories.user(org, "rep")
    buyer = factories.make_contact(org, email="dana@buyer.example", name="Dana Buyer")
    deal = factories.make_deal(org, owner=rep, title="Acme renewal")
    deal.contact_id = buyer.id
    db.session.commit()
    page = new_page(rep, PHONE)
    page.goto("/booking/hours")
    page.locator("#w0_0_start").fill("09:00")
    page.locator("#w0_0_end").fill("10:00")
    page.get_by_role("button", name="Save booking hours").click()
    assert "Booking hours saved" in page.locator("#flashes").inner_text()
    no_sideways_scroll(page)
    screenshot(page, "booking-hours-phone")
    set_hours(rep, every_day(), notice="0", horizon="3")  # open now, whatever time the test runs
    page.goto(f"/deals/{deal.id}")
    page.get_by_role("button", name="Book a meeting").click()
    page.locator(".slot").first.click()
    no_sideways_scroll(page)
    screenshot(page, "booking-book-phone")
    page.get_by_role("button", name="Book the meeting").click()
    page.wait_for_load_state()  # the deal page streams in: under load its side column came after the flash
    assert "Meeting booked for" in page.locator("#flashes").inner_text()
    panel = page.locator(f"#deal-meetings-{deal.id}")
    expect(panel).to_contain_text("Reschedule")
    no_sideways_scroll(page)
    screenshot(page, "booking-deal-panel-phone")
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("text=cancelled; both sides are told")
    assert "No meetings booked" in page.locator(f"#deal-meetings-{deal.id}").inner_text()
    db.session.expire_all()
    assert Meeting.query.one().status == "cancelled"
