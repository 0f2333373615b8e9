"""Expected close dates from Pipedrive, HubSpot and Salesforce exports, through the real upload path.

data/salesforce_opportunities.csv is a byte-for-byte copy of shared/data/real/salesforce-devorg-sample/
opportunity.csv: Salesforce's stock Developer-Edition demo opportunities as its Data Export writes them.
"""

import csv
import io
from datetime import date, datetime

from app.extensions import db
from app.models import Company, Contact, Deal, ImportJob
from app.pipelines.service import create_pipeline, save_stage
from tests import factories
from tests.imports.conftest import guessed, import_id_from, mapping_form, sample, upload

PIPEDRIVE = (
    '"Deal - Title","Deal - Value","Deal - Stage","Deal - Organization","Person - Email",'
    '"Deal - ICP confirmed","Deal - Pain identified","Deal - Expected close date"\n'
    '"Northwind renewal","12000","Qualified","Northwind","nora@northwind.example.com","Yes","Slow quotes","2026-03-31"\n'
    '"No date yet","5000","Qualified","","","Yes","Slow quotes",""\n'
    '"Vague plan","7000","Qualified","Vague Co","vic@vague.example.com","Yes","Slow quotes","end of Q2"\n'
    '"Typo year","9000","Qualified","Typo Co","","Yes","Slow quotes","0226-03-31"\n'
)


def _import(client, content: bytes, filename: str, pipeline, mapping: dict | None = None, **form):
    """Upload, confirm the mapping as shown (with `mapping` {header: target} changed by hand), run the job."""
    import_id = import_id_from(upload(client, content, filename, "deals", pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    chosen = mapping_form(page)
    headers = list(guessed(page))
    for header, target in (mapping or {}).items():
        chosen[f"column-{headers.index(header)}"] = target
    response = client.post(f"/imports/{import_id}/mapping", data={**chosen, **form})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return import_id, guessed(page)


def _report(client, import_id) -> list:
    response = client.get(f"/imports/{import_id}/errors.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))[1:]


def test_pipedrive_expected_close_date_is_imported_and_a_bad_one_is_a_row_error(client, org, login_as, drain):
    login_as("manager")
    import_id, guesses = _import(client, PIPEDRIVE.encode(), "pipedrive-deals.csv", factories.pipeline(org))
    assert guesses["Deal - Expected close date"] == "expected_close_date"
    drain()

    deals = {d.title: d for d in Deal.query.filter_by(org_id=org.id)}
    assert set(deals) == {"Northwind renewal", "No date yet"}
    assert deals["Northwind renewal"].expected_close_date == date(2026, 3, 31)
    assert deals["No date yet"].expected_close_date is None
    # The refused rows left nothing behind: not their company, not their contact.
    assert Company.query.filter(Company.org_id == org.id, Company.name.in_(["Vague Co", "Typo Co"])).count() == 0
    assert Contact.query.filter_by(org_id=org.id, email="vic@vague.example.com").count() == 0
    assert _report(client, import_id) == [
        ["4", "Deal - Expected close date", "“end of Q2” is not a date (use YYYY-MM-DD)", "no"],
        ["5", "Deal - Expected close date", "Expected close date must be a date from 1970 to 2100", "no"],
    ]
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "<strong>2</strong> added" in page and "<strong>2</strong> not imported" in page
    assert "<td>4</td><td>Deal - Expected close date</td><td>“end of Q2” is not a date (use YYYY-MM-DD)</td>" in page


def test_hubspot_close_date_in_each_export_format_is_the_day_the_crm_showed(client, org, login_as, drain):
    org.timezone = "Europe/Berlin"
    db.session.commit()
    login_as("admin")
    content = (
        "Record ID,Deal Name,Amount,Deal Stage,Close Date,Closed Lost Reason,ICP confirmed,Pain identified\n"
        "1,Spaced time,1000,Qualified,2026-03-31 14:00,,true,Slow quotes\n"
        "2,UTC time,1000,Qualified,2026-03-31T14:00:00Z,,true,Slow quotes\n"
        "3,US date,1000,Qualified,03/31/2026,,true,Slow quotes\n"
        # 23:30 UTC is already 1 April in Berlin (summer time), the day HubSpot showed this portal.
        "4,Late UTC time,1000,Qualified,2026-03-31T23:30:00Z,,true,Slow quotes\n"
        # A closed deal's Close Date is when it closed.
        "5,Lost in May,1000,Closed Lost,2024-05-02 10:00,Price,,\n"
        "6,Lost in the future,1000,closedlost,2099-01-01,Price,,\n"
        "7,Past the calendar,1000,Qualified,9999-12-31T23:59:00Z,,true,Slow quotes\n"
    )
    import_id, guesses = _import(client, content.encode(), "hubspot-deals.csv", factories.pipeline(org))
    assert guesses["Close Date"] == "expected_close_date" and guesses["Closed Lost Reason"] == "lost_reason"
    drain()

    deals = {d.title: d for d in Deal.query.filter_by(org_id=org.id)}
    assert {t: d.expected_close_date for t, d in deals.items() if d.status == "open"} == {
        "Spaced time": date(2026, 3, 31), "UTC time": date(2026, 3, 31), "US date": date(2026, 3, 31),
        "Late UTC time": date(2026, 4, 1)}
    lost = deals["Lost in May"]
    assert (lost.status, lost.closed_at, lost.expected_close_date) == ("lost", datetime(2024, 5, 2, 10), date(2024, 5, 2))
    assert "Lost in the future" not in deals and "Past the calendar" not in deals
    assert _report(client, import_id) == [
        ["7", "Close Date", "Expected close date must be in the past", "no"],
        ["8", "Close Date", "“9999-12-31T23:59:00Z” is not a date in range (use YYYY-MM-DD)", "no"]]


def test_plain_expected_close_headers_are_recognised(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    for header in ("Expected close date", "expected_close_date", "Expected Close Date"):
        import_id = import_id_from(upload(client, f"Title,{header}\nA deal,2026-03-31\n".encode(), "d.csv", "deals",
                                          pipeline))
        page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
        assert guessed(page)[header] == "expected_close_date", header
        assert "Expected close date</option>" in page


def _salesforce_pipeline(org):
    """A pipeline with the demo org's stages and their Salesforce probabilities (no facts asked)."""
    pipeline = create_pipeline(org, "Salesforce opportunities")
    for name, probability in (("Prospecting", 10), ("Qualification", 10), ("Needs Analysis", 20),
                              ("Value Proposition", 50), ("Id. Decision Makers", 60), ("Perception Analysis", 70),
                              ("Proposal/Price Quote", 75), ("Negotiation/Review", 90)):
        save_stage(pipeline, {"name": name, "kind": "open", "probability": str(probability)})
    return pipeline


def test_a_real_salesforce_export_imports_closedate_mapped_by_hand(client, org, login_as, drain):
    login_as("manager")
    pipeline = _salesforce_pipeline(org)
    content = sample("salesforce_opportunities.csv")
    # No Salesforce preset: the user picks the four columns on the mapping screen.
    by_hand = {"Name": "title", "StageName": "stage", "Amount": "amount", "CloseDate": "expected_close_date"}
    import_id, guesses = _import(client, content, "opportunity.csv", pipeline, by_hand)
    assert guesses["CloseDate"] == ""
    drain()

    job = db.session.get(ImportJob, import_id)
    assert (job.status, job.created_count, job.error_count) == ("done", 31, 0)
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    deals = Deal.query.filter_by(org_id=org.id, pipeline_id=pipeline.id).order_by(Deal.id).all()
    assert [d.expected_close_date.isoformat() for d in deals] == [r["CloseDate"][:10] for r in rows]
    won = [d for d in deals if d.status == "won"]
    assert len(won) == 18 and all(d.closed_at == datetime.combine(d.expected_close_date, datetime.min.time())
                                  for d in won)

    # All 13 open opportunities were expected to close in 2023: before this quarter on the report. Their
    # weighted amount is Salesforce's own ExpectedRevenue (Amount × Probability / 100) summed:
    # 1,500 + 112,500 + 202,500 + 9,000 + 125,000 + 10,000 + 40,000 + 243,000 + 75,000 + 84,000 + 135,000
    # + 21,000 + 36,000 = 1,094,500; their amounts add up to 2,115,000.
    open_rows = [r for r in rows if r["IsClosed"] == "0"]
    assert sum(int(r["ExpectedRevenue"]) for r in open_rows) == 1_094_500
    report = client.get(f"/reports/{pipeline.id}/export?table=forecast_by_close")
    table = {r[0]: r[2:] for r in csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff")))}
    assert table["Before this quarter (date passed)"] == ["1094500.00", "13", "2115000.00", "USD"]  # weighted, deals, amount
    assert table["All open deals"] == ["1094500.00", "13", "2115000.00", "USD"]
