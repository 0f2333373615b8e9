"""The lead form builder's live preview, its Copy button and its phone labels (issue 18, item 8f)."""

import re

from app.models.leads import LeadForm
from tests import factories

HX = {"HX-Request": "true"}


def preview(client, **data):
    response = client.post("/leads/forms/preview", headers=HX, data=data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_preview_shows_the_fields_in_order_with_their_labels_and_saves_nothing(client, org, login_as):
    login_as("admin")
    html = preview(client, name="Contact us", title="Book a demo", intro="Thirty minutes, no slides.",
                   field=["email", "name", "message"], order_email="2", order_name="1", order_message="3",
                   label_name="Full name", required_name="1", consent_text="You may email me.")
    assert "<html" not in html and "Book a demo" in html and "Thirty minutes, no slides." in html
    labels = re.findall(r'<label for="(f_\w+)">([^<*]+)', html)
    assert [(name, text.strip()) for name, text in labels] == [
        ("f_name", "Full name"), ("f_email", "Work email"), ("f_message", "How can we help?")]
    assert 'id="f_name" name="f_name" type="text"' in html and "<textarea id=\"f_message\"" in html
    assert "You may email me." in html
    assert LeadForm.query.count() == 0


def test_the_preview_always_has_the_email_and_escapes_what_was_typed(client, org, login_as):
    login_as("admin")
    html = preview(client, name="X", title="<script>alert(1)</script>", field=["phone", "bogus", "phone"],
                   label_phone="<b>Phone</b>")
    assert "&lt;script&gt;" in html and "<script>alert" not in html and "&lt;b&gt;Phone" in html
    assert html.count('id="f_phone"') == 1 and "bogus" not in html
    assert 'id="f_email"' not in html  # not ticked: the preview shows what Save would refuse...
    # ...and a ticked email is always required, as the saved form makes it.
    html = preview(client, name="X", field=["email"])
    assert re.search(r'id="f_email"[^>]*required', html, re.S)


def test_a_deal_fact_shows_as_its_input_and_another_organisations_pipeline_is_ignored(client, org, login_as):
    login_as("admin")
    pipe = factories.pipeline(org)
    html = preview(client, name="X", pipeline_id=str(pipe.id), field=["email", "fact:terms_status"])
    assert '<select id="f_fact_terms_status"' in html and re.search(r"<option\s*>Accepted</option>", html)
    other = factories.pipeline(factories.make_org())
    html = preview(client, name="X", pipeline_id=str(other.id), field=["email", "fact:terms_status"])
    assert "terms_status" not in html
    assert "f_email" in preview(client, name="X", pipeline_id="99999999999999999999", field=["email"])


def test_only_admins_preview_forms(client, org, login_as):
    login_as("rep")
    assert client.post("/leads/forms/preview", headers=HX, data={"field": ["email"]}).status_code == 403


def test_the_builder_offers_a_copy_button_a_preview_and_labels_its_order_boxes(client, org, login_as):
    login_as("admin")
    client.post("/leads/forms/new", data={"action": "save", "name": "Contact us", "field": ["email"],
                                          "required_email": "1"})
    form = LeadForm.query.one()
    page = client.get(f"/leads/forms/{form.id}").get_data(as_text=True)
    assert 'data-copy="#embed-code"' in page and 'id="embed-copied"' in page and 'role="status"' in page
    assert 'hx-post="/leads/forms/preview"' in page and 'hx-include="#lead-form-builder"' in page
    assert '<label for="order-email" class="cell-label">Order</label>' in page
    assert 'id="order-email" name="order_email" aria-label="Order of Work email"' in page
