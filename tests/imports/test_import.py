"""CSV import end to end: upload, mapping screen, background job, progress, summary, error report."""

import csv
import io

from app.models import Company, Contact, Deal, DealContact, ImportJob, ImportRow, StageTransition
from tests import factories
from tests.imports.conftest import guessed, import_id_from, mapping_form, sample, upload


def _start(client, content, filename, kind, pipeline=None):
    import_id = import_id_from(upload(client, content, filename, kind, pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    response = client.post(f"/imports/{import_id}/mapping", data=mapping_form(page))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return import_id, page


def _report(client, import_id):
    response = client.get(f"/imports/{import_id}/errors.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_pipedrive_deals_export_imports_through_the_gate_without_hand_editing(client, org, login_as, sam, drain):
    login_as("manager")
    pipeline = factories.pipeline(org)
    import_id, page = _start(client, sample("pipedrive_deals.csv"), "deals.csv", "deals", pipeline)
    guesses = guessed(page)
    assert guesses["Deal - Title"] == "title" and guesses["Deal - Value"] == "amount"
    assert guesses["Deal - Stage"] == "stage" and guesses["Deal - Owner"] == "owner"
    assert guesses["Deal - Organization"] == "company" and guesses["Person - Email"] == "contact_email"
    assert guesses["Deal - ICP confirmed"] == "fact:icp_confirmed" and guesses["Deal - ID"] == ""

    # Queued, not yet run: the page polls a progress bar.
    progress = client.get(f"/imports/{import_id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<progress" in progress and 'hx-trigger="every 1s"' in progress and "0 of 6 rows" in progress

    drain()

    deals = {d.title: d for d in Deal.query.filter_by(org_id=org.id)}
    assert set(deals) == {"Northwind Insurance renewal", "Fabrikam commercial lines", "Tailspin toys liability",
                          "Adatum lost deal"}
    northwind = deals["Northwind Insurance renewal"]
    assert northwind.owner_id == sam.id and str(northwind.amount) == "12500.00"
    assert northwind.stage.name == "Qualified" and northwind.company.name == "Northwind Insurance"
    assert northwind.contact.email == "nora@northwind.example.com" and northwind.contact.name == "Nora North"
    assert northwind.created_at.isoformat() == "2024-03-04T09:15:00"
    # Discovery in the file, but without Qualified's exit facts: placed at the furthest stage it meets.
    assert deals["Fabrikam commercial lines"].stage.name == "Qualified"
    assert deals["Tailspin toys liability"].stage.name == "Qualified"
    assert deals["Tailspin toys liability"].status == "open"
    assert deals["Fabrikam commercial lines"].currency == "EUR"
    assert deals["Adatum lost deal"].status == "lost" and deals["Adatum lost deal"].loss_reason.label == "Price"
    # A refused row leaves nothing behind: not its company, not its contact.
    assert Company.query.filter_by(org_id=org.id, name="Contoso Ltd").count() == 0
    assert Contact.query.filter_by(org_id=org.id, email="carl@contoso.example.com").count() == 0
    # Every imported deal entered its stage through the gate, with a recorded transition.
    assert StageTransition.query.filter(StageTransition.deal_id.in_([d.id for d in deals.values()])).count() == 4

    summary = client.get(f"/imports/{import_id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<progress" not in summary and "every 1s" not in summary
    assert "<strong>4</strong> added" in summary and "<strong>2</strong> not imported" in summary
    assert "errors.csv" in summary
    # The report can be read on the page too, with the row numbers the spreadsheet shows.
    assert "<td>3</td><td>Deal - ICP confirmed</td><td>ICP confirmed is required to enter Qualified</td><td>No</td>" \
        in summary

    report = _report(client, import_id)
    assert report[0] == ["Row", "Column", "Problem", "Imported"]
    by_row = {}
    for row, column, problem, imported in report[1:]:
        by_row.setdefault(int(row), []).append((column, problem, imported))
    assert by_row[3] == [("Deal - ICP confirmed", "ICP confirmed is required to enter Qualified", "no"),
                         ("Deal - Pain identified", "Pain identified is required to enter Qualified", "no")]
    short = "placed in Qualified, not Closed Won: "
    assert [(c, p, i) for c, p, i in by_row[5]][:2] == [
        ("", short + "Budget range captured is required to leave Qualified", "yes"),
        ("", short + "Decision maker identified is required to leave Qualified", "yes")]
    assert {p for _, p, _ in by_row[5]} >= {short + "Contract signed is required to enter Closed Won",
                                            short + "Onboarding hand-off context is required to enter Closed Won"}
    assert by_row[6][0][0] == "Deal - Stage" and "“Negotiating” is not a stage of Article five-stage" in by_row[6][0][1]
    # Imported, but the unknown owner is reported rather than silently guessed.
    assert by_row[4] == [("Deal - Owner", f"no active user “Someone Who Left” here; the deal is yours "
                                          f"({factories.user(org, 'manager').email})", "yes"),
                         ("", "placed in Qualified, not Discovery: Budget range captured is required to leave "
                              "Qualified", "yes"),
                         ("", "placed in Qualified, not Discovery: Decision maker identified is required to leave "
                              "Qualified", "yes")]


def test_hubspot_contacts_export_imports_and_reports_the_bad_email(client, org, login_as, sam, drain):
    login_as("admin")
    import_id, page = _start(client, sample("hubspot_contacts.csv"), "hubspot-contacts.csv", "contacts")
    guesses = guessed(page)
    assert guesses == {"Record ID": "", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
                       "Phone Number": "phone", "Company Name": "company", "Job Title": "title",
                       "Lifecycle Stage": "", "Contact owner": "", "Create Date": ""}
    drain()

    zoe = Contact.query.filter_by(org_id=org.id, email="zoe.muller@alpine.example.com").one()
    assert zoe.name == "Zoë Müller" and zoe.title == "Head of Operations" and zoe.phone == "+41 44 555 01 01"
    assert zoe.company.name == "Alpine Logistics"
    assert Contact.query.filter_by(org_id=org.id, email="raj.patel@brightside.example.com").one().title == "CFO"
    assert Company.query.filter_by(org_id=org.id, name="Alpine Logistics").count() == 1
    assert Contact.query.filter_by(org_id=org.id).count() == 3
    report = _report(client, import_id)
    assert report[1:] == [["4", "Email", "“not-an-email” is not an email address", "no"]]
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "<strong>3</strong> added" in page and "<strong>1</strong> not imported" in page


def test_hubspot_deals_export_maps_owner_by_email_and_stage_case_insensitively(client, org, login_as, sam, drain):
    login_as("admin")
    pipeline = factories.pipeline(org)
    import_id, page = _start(client, sample("hubspot_deals.csv"), "hubspot-deals.csv", "deals", pipeline)
    guesses = guessed(page)
    assert guesses["Deal Name"] == "title" and guesses["Deal Stage"] == "stage" and guesses["Amount"] == "amount"
    assert guesses["Deal owner"] == "owner" and guesses["Create Date"] == "created_at"
    # HubSpot's Close Date is when an open deal is expected to close.
    assert guesses["Close Date"] == "expected_close_date" and guesses["Pipeline"] == "pipeline"
    drain()
    deal = Deal.query.filter_by(org_id=org.id).one()
    assert deal.title == "Brightside expansion" and deal.owner_id == sam.id and deal.stage.name == "Qualified"
    assert deal.expected_close_date.isoformat() == "2024-06-30" and deal.closed_at is None
    assert deal.company.name == "Brightside Insurance" and deal.facts["icp_confirmed"] is True
    assert [r[0] for r in _report(client, import_id)[1:]] == ["3", "3"]


def test_rerunning_the_same_import_job_creates_nothing_twice(client, org, login_as, sam, drain):
    from app.jobs import run_import

    login_as("admin")
    import_id, _ = _start(client, sample("pipedrive_deals.csv"), "deals.csv", "deals", factories.pipeline(org))
    drain()
    counts = (Deal.query.count(), Contact.query.count(), Company.query.count(), DealContact.query.count())
    job = ImportJob.query.get(import_id)
    job.status = "running"  # as if the worker died after its last row and the job were picked up again
    from app.extensions import db

    db.session.commit()
    run_import(import_id)
    db.session.expire_all()
    assert (Deal.query.count(), Contact.query.count(), Company.query.count(), DealContact.query.count()) == counts
    assert ImportRow.query.filter_by(import_id=import_id).count() == 6
    job = ImportJob.query.get(import_id)
    assert (job.status, job.processed, job.created_count, job.error_count) == ("done", 6, 4, 2)


def test_an_interrupted_import_resumes_after_its_last_committed_row(client, org, login_as, drain):
    from app.extensions import db
    from app.jobs import run_import

    login_as("admin")
    rows = "".join(f"Person {i},person{i}@example.com\n" for i in range(1, 6))
    import_id, _ = _start(client, ("Name,Email\n" + rows).encode(), "people.csv", "contacts")
    # Pretend rows 2-3 were committed before a crash: the contact and its row record exist.
    for n in (2, 3):
        db.session.add(Contact(org_id=org.id, email=f"person{n - 1}@example.com", name="Before crash"))
        db.session.add(ImportRow(org_id=org.id, import_id=import_id, row_number=n, outcome="created"))
    job = db.session.get(ImportJob, import_id)
    job.status, job.processed, job.created_count = "running", 2, 2
    db.session.commit()
    run_import(import_id)
    db.session.expire_all()
    assert Contact.query.filter_by(org_id=org.id).count() == 5
    assert Contact.query.filter_by(email="person1@example.com").one().name == "Before crash"
    job = db.session.get(ImportJob, import_id)
    assert (job.status, job.processed, job.created_count) == ("done", 5, 5)


def test_importing_a_contact_twice_updates_it_instead_of_duplicating(client, org, login_as, drain):
    login_as("admin")
    _start(client, b"Email,Name,Job Title\nkim@example.com,Kim,Buyer\n", "a.csv", "contacts")
    drain()
    import_id, _ = _start(client, b"Email,Name,Job Title\nKIM@example.com,,Head buyer\n", "b.csv", "contacts")
    drain()
    kim = Contact.query.filter_by(org_id=org.id).one()
    assert (kim.name, kim.title) == ("Kim", "Head buyer")
    assert "<strong>1</strong> updated" in client.get(f"/imports/{import_id}").get_data(as_text=True)


def test_companies_import_maps_pipedrive_organization_columns(client, org, login_as, drain):
    login_as("admin")
    content = (b"Organization - Name,Organization - Industry,Organization - Number of employees,Organization - Website\n"
               b"Globex,Manufacturing,51-200,https://globex.example.com\n,Retail,,\n")
    import_id, _ = _start(client, content, "orgs.csv", "companies")
    drain()
    globex = Company.query.filter_by(org_id=org.id).one()
    assert (globex.name, globex.industry, globex.size, globex.website) == (
        "Globex", "Manufacturing", "51-200", "https://globex.example.com")
    assert _report(client, import_id)[1:] == [["3", "Organization - Name", "is required", "no"]]


def test_mapping_without_a_required_column_says_which_and_starts_nothing(client, org, login_as):
    login_as("admin")
    import_id = import_id_from(upload(client, b"Full Name,Phone\nAna,555\n", "p.csv", "contacts"))
    response = client.post(f"/imports/{import_id}/mapping", data={"column-0": "name", "column-1": "phone"})
    assert response.status_code == 422
    assert "Map a column to “Email”: every contact needs one." in response.get_data(as_text=True)
    assert ImportJob.query.get(import_id).status == "mapping"
    response = client.post(f"/imports/{import_id}/mapping", data={"column-0": "email", "column-1": "email"})
    assert "Two columns are mapped to “Email”" in response.get_data(as_text=True)


def test_imports_are_for_managers_and_scoped_to_the_organisation(client, org, login_as):
    login_as("admin")
    import_id = import_id_from(upload(client, b"Email\na@example.com\n", "p.csv", "contacts"))
    login_as("rep")
    assert client.get("/imports/").status_code == 403
    assert client.get(f"/imports/{import_id}").status_code == 403
    other = factories.make_org()
    client.post("/auth/logout")
    client.post("/auth/login", data={"email": factories.user(other).email, "password": factories.PASSWORD})
    for url in (f"/imports/{import_id}", f"/imports/{import_id}/mapping", f"/imports/{import_id}/errors.csv",
                f"/imports/{import_id}/progress"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/imports/{import_id}/mapping", data={"column-0": "email"}).status_code == 404


def test_a_manager_imports_deals_past_the_gate_with_an_override_reason_in_their_history(
        client, org, login_as, sam, drain):
    login_as("manager")
    pipeline = factories.pipeline(org)
    import_id = import_id_from(upload(client, sample("pipedrive_deals.csv"), "deals.csv", "deals", pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert "Import past the gate" in page
    response = client.post(f"/imports/{import_id}/mapping",
                           data={**mapping_form(page), "override_reason": "Moving over from Pipedrive"})
    assert response.status_code == 303
    drain()
    deals = {d.title: d for d in Deal.query.filter_by(org_id=org.id)}
    assert deals["Fabrikam commercial lines"].stage.name == "Discovery"
    assert deals["Tailspin toys liability"].status == "won"
    assert deals["Contoso fleet cover"].stage.name == "Qualified"
    history = StageTransition.query.filter_by(deal_id=deals["Contoso fleet cover"].id).one()
    assert history.kind == "override" and history.override and history.reason == "Moving over from Pipedrive"
    # A row that met its stage anyway entered it normally.
    assert StageTransition.query.filter_by(deal_id=deals["Northwind Insurance renewal"].id).one().kind == "create"
    assert [r[0] for r in _report(client, import_id)[1:]] == ["4", "6"]  # the unknown owner and stage


def test_an_override_reason_longer_than_2000_characters_is_refused_on_the_mapping_screen(
        client, org, login_as, sam):
    login_as("manager")
    pipeline = factories.pipeline(org)
    import_id = import_id_from(upload(client, sample("pipedrive_deals.csv"), "deals.csv", "deals", pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    response = client.post(f"/imports/{import_id}/mapping", data={**mapping_form(page), "override_reason": "x" * 2001})
    assert response.status_code == 422 and "at most 2000 characters" in response.get_data(as_text=True)
    assert ImportJob.query.get(import_id).status == "mapping"
