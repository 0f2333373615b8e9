"""The admin's lead pages over HTTP: settings validation, the form builder and the gate, the leads list."""

import re

from app.extensions import db
from app.models import Contact
from app.models.leads import FitRule, LeadForm, LeadSettings
from tests import factories


def test_reps_cannot_open_lead_settings_or_forms(client, login_as):
    login_as("rep")
    assert client.get("/leads/settings").status_code == 403
    assert client.get("/leads/forms").status_code == 403
    assert client.get("/leads/").status_code == 200


def test_bad_thresholds_are_named_and_nothing_changes(client, org, login_as):
    login_as("admin")
    response = client.post("/leads/settings/general", data={
        "mql_threshold": "80", "hot_threshold": "70", "lapse_days": "0", "speed_minutes": "5",
        "hours_start": "9", "hours_end": "", "routing": "owner_then_round_robin"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "must be above the MQL threshold" in html and "from 1 to 3650" in html and "set both" in html
    settings = LeadSettings.query.filter_by(org_id=org.id).one()
    assert (settings.mql_threshold, settings.hot_threshold, settings.lapse_days) == (40, 70, 90)


def test_business_hours_and_speed_window_save(client, org, login_as):
    login_as("admin")
    response = client.post("/leads/settings/general", data={
        "mql_threshold": "40", "hot_threshold": "70", "lapse_days": "90", "speed_minutes": "10",
        "hours_start": "9", "hours_end": "17", "hours_days": ["1", "2", "3"], "routing": "round_robin"})
    assert response.status_code == 303
    settings = db.session.get(LeadSettings, LeadSettings.query.filter_by(org_id=org.id).one().id)
    assert (settings.speed_minutes, settings.hours_start, settings.hours_end, settings.hours_days,
            settings.routing) == (10, 9, 17, "123", "round_robin")


def test_adding_and_deleting_a_fit_rule(client, org, login_as):
    login_as("admin")
    bad = client.post("/leads/settings/fit-rules", data={"field": "shoe_size", "operator": "in", "value": "",
                                                         "points": "500"})
    assert bad.status_code == 422 and FitRule.query.count() == 0
    ok = client.post("/leads/settings/fit-rules", data={"field": "country", "operator": "in",
                                                        "value": "Germany", "points": "10"})
    assert ok.status_code == 303
    rule = FitRule.query.one()
    page = client.get("/leads/settings").get_data(as_text=True)
    assert "Country is one of “Germany”" in page
    client.post(f"/leads/settings/fit-rules/{rule.id}/delete")
    assert FitRule.query.count() == 0


def test_the_builder_refuses_a_stage_whose_requirements_the_form_does_not_ask(client, org, login_as):
    pipeline = factories.pipeline(org)
    later = next(s for s in pipeline.open_stages if s.position > pipeline.open_stages[0].position
                 and any(True for _ in s.required_fields("entry")))
    login_as("admin")
    page = client.post("/leads/forms/new", data={"action": "refresh", "name": "Demo", "pipeline_id": pipeline.id,
                                                 "field": ["email"]}).get_data(as_text=True)
    assert "needs" in page and "disabled" in page
    response = client.post("/leads/forms/new", data={
        "action": "save", "name": "Demo", "field": ["email"], "required_email": "1",
        "pipeline_id": str(pipeline.id), "stage_id": str(later.id)})
    assert response.status_code == 422
    assert "before a deal can start there" in response.get_data(as_text=True)
    assert LeadForm.query.count() == 0


def test_a_form_is_built_with_ordered_fields_and_an_embed_snippet(client, org, login_as):
    login_as("admin")
    response = client.post("/leads/forms/new", data={
        "action": "save", "name": "Contact us", "field": ["email", "name", "message"],
        "order_email": "2", "order_name": "1", "order_message": "3", "label_name": "Full name",
        "required_email": "1", "required_name": "1", "allowed_origins": "https://www.agency.example",
        "follow_up_minutes": "30", "active": "1"})
    assert response.status_code == 303
    form = LeadForm.query.one()
    assert [f["maps_to"] for f in form.fields] == ["name", "email", "message"]
    assert form.fields[0]["label"] == "Full name"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    snippet = re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert snippet.startswith(f"&lt;iframe src=&#34;http://localhost/f/{form.key}?embed=1&#34;") \
        or snippet.startswith(f"&lt;iframe src=&quot;http://localhost/f/{form.key}?embed=1&quot;")
    assert "script" not in snippet and 'title=&#34;Contact us&#34;' in snippet.replace("&quot;", "&#34;")


def test_a_redirect_that_would_inject_into_the_csp_is_refused(client, org, login_as):
    login_as("admin")
    response = client.post("/leads/forms/new", data={"action": "save", "name": "X", "field": ["email"],
                                                     "redirect_url": "https://a.example;script-src *"})
    assert response.status_code == 422 and LeadForm.query.count() == 0


def test_a_bad_allowed_site_is_named(client, org, login_as):
    login_as("admin")
    response = client.post("/leads/forms/new", data={"action": "save", "name": "X", "field": ["email"],
                                                     "allowed_origins": "javascript:alert(1)"})
    assert response.status_code == 422 and "is not a site like" in response.get_data(as_text=True)


def test_the_leads_list_filters_by_status_and_escapes_names(client, org, login_as):
    db.session.add_all([
        Contact(org_id=org.id, email="a@x.example", name="<script>alert(1)</script>", lead_score=80,
                score_level="hot", source="API"),
        Contact(org_id=org.id, email="b@x.example", name="Bea", lead_score=45, score_level="mql", source="API"),
    ])
    db.session.commit()
    login_as("rep")
    html = client.get("/leads/").get_data(as_text=True)
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert html.index("&lt;script&gt;") < html.index("Bea")
    only_mql = client.get("/leads/?status=mql", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Bea" in only_mql and "&lt;script&gt;" not in only_mql
    assert client.get("/leads/?owner_id=99999999999999999999").status_code == 200


def test_editing_a_contacts_title_rescores_its_fit(client, org, login_as):
    db.session.add(FitRule(org_id=org.id, field="title", operator="contains", value="owner", points=15))
    db.session.commit()
    login_as("admin")
    response = client.post("/contacts/new", data={"email": "own@er.example", "name": "O", "title": "Agency Owner",
                                                  "lead_status": "new"})
    assert response.status_code == 302
    contact = Contact.query.filter_by(email="own@er.example").one()
    assert (contact.fit_score, contact.lead_score) == (15, 15)
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "+15 title Agency Owner" in page
