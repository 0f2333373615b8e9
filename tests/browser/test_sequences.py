"""Sequences in real Chromium: live preview names a broken merge field; enrolling from a phone."""

from app.models import Enrollment
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.factories import make_contact
from tests.sequences.conftest import _outbox_in_tmp, make_sequence, smtp  # noqa: F401


def test_live_preview_shows_a_real_contact_and_a_broken_merge_field_before_saving(new_page, org):
    make_contact(org)
    page = new_page(factories.user(org, "manager"), viewport=DESKTOP)
    page.goto("/sequences/new")
    page.get_by_label("Name").fill("Spring outreach")
    subject = page.locator("#subject-0")
    subject.fill("Hello {{first_name}} from {{company}}")
    page.locator("#preview-0").get_by_text("Hello Pat from Prospect Inc").wait_for()
    subject.fill("Hello {{frist_name}}")
    page.locator("#preview-0").get_by_text("{{frist_name}} is not a merge field").wait_for()
    screenshot(page, "sequence-builder-desktop")
    page.get_by_role("button", name="Save sequence").click()
    page.get_by_text("The sequence was not saved").wait_for()
    assert page.locator("#subject-0").input_value() == "Hello {{frist_name}}"
    page.set_viewport_size(PHONE)
    page.goto("/sequences/new")
    page.locator("#preview-0").get_by_text("Preview for Pat Prospect").wait_for()
    screenshot(page, "sequence-builder-phone")
    assert_fits_phone(page)


def test_rep_enrolls_a_contact_from_its_page_on_a_phone(new_page, org):
    make_sequence(org, factories.user(org, "manager"))
    contact = make_contact(org)
    rep = factories.user(org, "rep")
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/contacts/{contact.id}")
    page.get_by_role("button", name="Enroll", exact=True).click()
    page.get_by_text("Enrolled Pat Prospect").wait_for()
    page.locator(".seq-box").get_by_text("In progress").wait_for()
    screenshot(page, "sequence-contact-phone")
    assert_fits_phone(page)
    assert Enrollment.query.filter_by(contact_id=contact.id, owner_id=rep.id).count() == 1
    page.goto("/sequences/")
    screenshot(page, "sequences-list-phone")
    assert_fits_phone(page)
    page.goto(f"/sequences/{Enrollment.query.one().sequence_id}")
    screenshot(page, "sequence-show-phone")
    assert_fits_phone(page)


def assert_fits_phone(page):
    """No sideways scrolling at 390px; name the elements that stick out when there is."""
    wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide


def test_a_paused_sender_sees_why_and_resumes_sending_on_a_phone(new_page, org, smtp):  # noqa: F811
    from app.models import SenderPause
    from app.sequences import service
    from app.sequences.sending import sweep_due

    rep = factories.user(org, "rep")
    inbox = smtp(mail_from={"*": f"550 5.7.1 <{rep.email}>: Sender address rejected: Access denied"})
    service.enroll(make_sequence(org, factories.user(org, "manager")), make_contact(org), rep)
    sweep_due()
    desktop = new_page(rep, viewport=DESKTOP)
    desktop.goto("/sequences/")
    desktop.get_by_text("Sender address rejected: Access denied").wait_for()
    screenshot(desktop, "sequences-sending-paused-desktop")
    page = new_page(rep, viewport=PHONE)
    page.goto("/sequences/")
    section = page.get_by_role("region", name="Sending is paused")
    section.get_by_text("nobody was marked as bounced").wait_for()
    button = section.get_by_role("button", name="Resume sending")
    assert button.bounding_box()["height"] >= 44
    screenshot(page, "sequences-sending-paused-phone")
    assert_fits_phone(page)
    inbox.script["MAIL"] = {}
    button.click()
    page.get_by_text("Sending resumed").wait_for()
    assert page.get_by_role("region", name="Sending is paused").count() == 0
    assert SenderPause.query.one().cleared_by_id == rep.id
    sweep_due()
    assert len(inbox.messages) == 1
