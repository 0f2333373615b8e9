"""axe-core on every main page at phone and desktop size: no serious or critical violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.extensions import db
from app.models import Company, Contact
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE

BLOCKING = {"serious", "critical"}
# axe-core's defaults plus label-content-name-mismatch (experimental, so off by default): a button
# whose name does not contain its visible text breaks speech control ("click Use this template").
OPTIONS = {"rules": {"label-content-name-mismatch": {"enabled": True}}}
_axe = Axe()


def blocking_violations(page) -> list:
    """Run axe-core on the page as it is now; return 'rule: target' for each serious or critical node."""
    results = _axe.run(page, options=OPTIONS)
    assert results.response["passes"], "axe-core did not run"
    return [f"{v['id']} ({v['impact']}): {n['target']} {v['help']}"
            for v in results.response["violations"] if v["impact"] in BLOCKING for n in v["nodes"]]


@pytest.fixture
def pages(org):
    """One URL per main page, with data on it (a deal, a contact, a company, a task)."""
    pipe = factories.pipeline(org)
    deal = factories.make_deal(org, "Discovery", title="Baker St Dental")
    company = Company(org_id=org.id, name="Baker St Group")
    contact = Contact(org_id=org.id, name="Dana Ortiz", email="dana@baker.example.com", title="CFO")
    db.session.add_all([company, contact])
    db.session.commit()
    stage = pipe.open_stages[0]
    return {
        "board": f"/deals/board/{pipe.id}", "deal": f"/deals/{deal.id}", "new deal": f"/deals/new?pipeline_id={pipe.id}",
        "contacts": "/contacts/", "contact": f"/contacts/{contact.id}", "companies": "/contacts/companies/",
        "company": f"/contacts/companies/{company.id}", "tasks": "/tasks/", "notifications": "/tasks/notifications",
        "stale": "/tasks/stale", "imports": "/imports/", "pipelines": "/admin/pipelines",
        "pipeline": f"/admin/pipelines/{pipe.id}", "criteria": f"/admin/pipelines/{pipe.id}/criteria",
        "fields": f"/admin/pipelines/{pipe.id}/fields", "stage": f"/admin/stages/{stage.id}",
        "people": "/admin/users", "api keys": "/admin/api-keys", "loss reasons": "/admin/loss-reasons",
    }


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_main_page_has_no_serious_or_critical_axe_violation(new_page, org, pages, viewport):
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    found = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, (name, url, response.status)
        page.wait_for_load_state("networkidle")
        if problems := blocking_violations(page):
            found[name] = problems
    assert found == {}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_signed_out_pages_and_the_open_move_menu_pass_axe(new_page, org, viewport):
    page = new_page(viewport=viewport)
    for url in ("/auth/login", "/auth/signup"):
        page.goto(url)
        assert blocking_violations(page) == [], url
    deal = factories.make_deal(org, title="Harbor Fitness")
    page = new_page(factories.user(org, "rep"), viewport=viewport)
    page.goto(f"/deals/board/{factories.pipeline(org).id}")
    page.locator(f"#card-{deal.id} .move").click()
    page.locator("dialog#move-picker").wait_for()
    assert blocking_violations(page) == []
