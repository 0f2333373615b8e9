"""CSV exports: streamed, filtered, and safe to open in a spreadsheet."""

import csv
import io

from app.contacts.service import save_contact
from tests import factories


def _rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_contact_export_escapes_formulas(client, org, login_as):
    admin = login_as("admin")
    save_contact(admin, {"name": '=HYPERLINK("http://evil.example.com","Click")', "email": "eve@example.com",
                         "title": "+1 boss", "phone": "-2", "company": "@Acme"})
    save_contact(admin, {"name": "Plain Person", "email": "plain@example.com", "title": "Buyer"})
    rows = _rows(client.get("/contacts/export.csv"))
    assert rows[0][:5] == ["Name", "Email", "Phone", "Job Title", "Company Name"]
    eve = next(r for r in rows if r[1] == "eve@example.com")
    assert eve[0] == '\'=HYPERLINK("http://evil.example.com","Click")'
    assert (eve[2], eve[3], eve[4]) == ("'-2", "'+1 boss", "'@Acme")
    plain = next(r for r in rows if r[1] == "plain@example.com")
    assert plain[0] == "Plain Person" and plain[3] == "Buyer"


def test_company_export_escapes_tab_and_carriage_return_starts(client, org, login_as):
    from app.extensions import db
    from app.models import Company

    login_as("admin")
    db.session.add(Company(org_id=org.id, name="\tTabbed", industry="\rReturn", website="https://ok.example.com"))
    db.session.commit()
    rows = _rows(client.get("/contacts/companies/export.csv"))
    assert rows[1][:4] == ["'\tTabbed", "'\rReturn", "", "https://ok.example.com"]


def test_deal_export_follows_the_pipeline_filter_and_lists_its_facts(client, org, login_as):
    login_as("manager")
    factories.make_deal(org, title="=cmd|' /C calc'!A0")
    factories.make_deal(org, title="Insurance deal", pipeline_name="Article five-stage", stage_name="Discovery")
    pipeline = factories.pipeline(org)
    rows = _rows(client.get(f"/imports/deals/export.csv?pipeline_id={pipeline.id}"))
    assert rows[0][:4] == ["Deal Title", "Amount", "Currency", "Stage"] and "ICP confirmed" in rows[0]
    titles = [r[0] for r in rows[1:]]
    assert titles == ["'=cmd|' /C calc'!A0", "Insurance deal"]
    icp = rows[0].index("ICP confirmed")
    assert rows[1][icp] == "yes"
    assert _rows(client.get(f"/imports/deals/export.csv?pipeline_id={pipeline.id}&status=won"))[1:] == []


def test_exports_need_a_manager_and_stay_in_the_organisation(client, org, login_as):
    login_as("rep")
    for url in ("/contacts/export.csv", "/contacts/companies/export.csv", "/imports/deals/export.csv"):
        assert client.get(url).status_code == 403, url
    other = factories.make_org()
    login_as("manager")
    assert client.get(f"/imports/deals/export.csv?pipeline_id={factories.pipeline(other).id}").status_code == 404


def test_exported_contacts_import_again_without_remapping(client, org, login_as, drain):
    from app.models import Contact
    from tests.imports.conftest import guessed, import_id_from, mapping_form, upload

    admin = login_as("admin")
    save_contact(admin, {"name": "Round Trip", "email": "rt@example.com", "title": "Buyer", "company": "Loop Co"})
    exported = client.get("/contacts/export.csv").get_data()
    Contact.query.delete()
    from app.extensions import db

    db.session.commit()
    import_id = import_id_from(upload(client, exported, "contacts.csv"))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert guessed(page)["Company Name"] == "company"
    client.post(f"/imports/{import_id}/mapping", data=mapping_form(page))
    drain()
    contact = Contact.query.one()
    assert (contact.name, contact.title, contact.company.name) == ("Round Trip", "Buyer", "Loop Co")


def test_deal_export_has_each_deals_expected_close_date_and_imports_it_again(client, org, login_as, drain):
    from datetime import date

    from app.extensions import db
    from app.models import Deal
    from tests.imports.conftest import guessed, import_id_from, mapping_form, upload

    login_as("manager")
    planned = factories.make_deal(org, title="Planned deal")
    factories.make_deal(org, title="Undated deal")
    planned.expected_close_date = date(2026, 3, 31)
    db.session.commit()
    pipeline = factories.pipeline(org)
    response = client.get(f"/imports/deals/export.csv?pipeline_id={pipeline.id}")
    rows = _rows(response)
    column = rows[0].index("Expected Close Date")
    assert {r[0]: r[column] for r in rows[1:]} == {"Planned deal": "2026-03-31", "Undated deal": ""}

    # The downloaded file goes into another organisation without remapping, dates and all.
    other = factories.make_org()
    login_as(who=factories.user(other, "manager"))
    import_id = import_id_from(upload(client, response.get_data(), "deals.csv", "deals", factories.pipeline(other)))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert guessed(page)["Expected Close Date"] == "expected_close_date"
    client.post(f"/imports/{import_id}/mapping", data=mapping_form(page))
    drain()
    assert {d.title: d.expected_close_date for d in Deal.query.filter_by(org_id=other.id)} == {
        "Planned deal": date(2026, 3, 31), "Undated deal": None}
