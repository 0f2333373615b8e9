"""The criteria editor in Chromium: tick, save over HTMX, see Saved, and it persists."""

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Stage
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, nav_to, screenshot


def _discovery(org):
    return factories.stage(factories.pipeline(org), "Discovery")


@pytest.mark.parametrize("viewport,name", [(DESKTOP, "criteria-editor-desktop"), (PHONE, "criteria-editor-phone")])
def test_admin_ticks_budget_on_exit_of_discovery_and_it_is_saved(new_page, org, viewport, name):
    discovery = _discovery(org)
    assert "budget_range" not in [f.key for f in discovery.required_fields("exit")]
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    page.goto(f"/admin/pipelines/{discovery.pipeline_id}")
    page.get_by_role("link", name="Criteria").click()
    page.get_by_role("navigation", name="Jump to a stage").get_by_role("link", name="Discovery").click()
    card = page.locator(f"#criteria-stage-{discovery.id}")
    box = card.get_by_label("Budget range captured: required to leave Discovery")
    box.check()
    assert card.get_by_text("Unsaved changes").is_visible()
    url_before = page.url
    card.get_by_role("button", name="Save Discovery").click()
    saved = page.locator(f"#criteria-stage-{discovery.id}").get_by_text("✓ Saved")
    saved.wait_for()
    assert page.url == url_before  # swapped in place, no reload
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.evaluate("window.scrollTo(0, 0)")  # keep the sticky top bar at the top of the full-page shot
    screenshot(page, name)
    db.session.expire_all()
    assert "budget_range" in [f.key for f in db.session.get(Stage, discovery.id).required_fields("exit")]
    page.reload()
    assert page.get_by_label("Budget range captured: required to leave Discovery").is_checked()


def test_phone_tick_targets_are_big_enough_and_nothing_scrolls_sideways(new_page, org):
    discovery = _discovery(org)
    page = new_page(factories.user(org, "admin"), viewport=PHONE)
    page.goto(f"/admin/pipelines/{discovery.pipeline_id}/criteria")
    tick = page.locator(".crit-card details[open] label.tick").first
    size = tick.bounding_box()
    assert size["height"] >= 44 and size["width"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for path in ("/admin/pipelines", f"/admin/pipelines/{discovery.pipeline_id}",
                 f"/admin/pipelines/{discovery.pipeline_id}/fields", "/admin/users", "/admin/api-keys",
                 "/admin/loss-reasons"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"/admin/pipelines/{discovery.pipeline_id}")
    screenshot(page, "admin-stages-phone")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_leaving_with_unsaved_ticks_asks_first_jumping_shows_the_stage_name_and_save_keeps_focus(
        new_page, org, viewport):
    discovery = _discovery(org)
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    page.goto(f"/admin/pipelines/{discovery.pipeline_id}/criteria")
    page.get_by_role("navigation", name="Jump to a stage").get_by_role("link", name="Discovery").click()
    title = page.locator(f"#crit-title-{discovery.id}")
    page.wait_for_function(f"Math.abs(document.getElementById('criteria-stage-{discovery.id}')"
                           ".getBoundingClientRect().top - 128) < 40")  # scrolled to it, margin kept
    header_bottom = page.locator(".topbar").bounding_box()["height"]
    assert title.bounding_box()["y"] >= header_bottom  # not hidden under the sticky top bar
    card = page.locator(f"#criteria-stage-{discovery.id}")
    card.get_by_label("Budget range captured: required to leave Discovery").check()
    asked = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", on_dialog)
    nav_to(page, "Contacts")
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"] and "/criteria" in page.url
    page.remove_listener("dialog", on_dialog)
    card.get_by_role("button", name="Save Discovery").click()
    status = page.locator(f"#criteria-stage-{discovery.id} .crit-status")
    expect(status).to_have_text("✓ Saved")
    expect(status).to_be_focused()
    nav_to(page, "Contacts")  # saved: leaves without asking
    page.wait_for_url("**/contacts/")
