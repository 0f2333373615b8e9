"""Tasks in real Chromium on a phone: add, complete and snooze without a page reload."""

from datetime import date, timedelta

from app.models import Task
from app.tasks.service import create_task, sweep_stale
from tests import factories
from tests.browser.conftest import PHONE, screenshot
from tests.tasks.helpers import stale_deal


def test_rep_adds_completes_and_snoozes_tasks_on_a_phone_without_reloading(new_page, org):
    rep = factories.user(org, "rep")
    stale_deal(org, 9, owner=rep, title="Quiet Hooli deal")
    sweep_stale()
    create_task(rep, title="Email the proposal", due=date.today() + timedelta(days=3))
    page = new_page(rep, viewport=PHONE)
    page.goto("/tasks/")
    page.evaluate("window.notReloaded = true")
    assert page.locator(".bell-count").inner_text() == "1"
    page.get_by_label("What to do").fill("Call Gavin")
    page.get_by_label("Kind").select_option("call")
    page.get_by_role("button", name="Add task").click()
    page.get_by_text("Call Gavin").wait_for()
    page.get_by_role("button", name="Mark “Call Gavin” done").click()
    page.locator(".task-done .task-title", has_text="Call Gavin").wait_for()
    page.get_by_label("Snooze or reassign “Email the proposal”").click()
    page.get_by_role("button", name="1 week").click()
    page.get_by_text("Due in 10 days").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "tasks-phone")
    gavin = Task.query.filter_by(title="Call Gavin").one()
    assert gavin.kind == "call" and gavin.done_at is not None
