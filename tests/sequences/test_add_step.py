"""The builder's "+ Add a step" (issue 18, item 8e): over htmx only the steps come back; without
JavaScript the whole builder, with the "Preview as" choice kept."""

import re

from app.models import Sequence
from tests.factories import make_contact
from tests.sequences.test_routes import builder_form

HX = {"HX-Request": "true"}


def test_adding_a_step_over_htmx_returns_the_steps_alone_with_the_new_one_focused(client, login_as):
    login_as("manager")
    response = client.post("/sequences/new", headers=HX, data=builder_form(add_step="1", body_0="Hello there"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="seq-steps">') and "<html" not in body
    assert "Preview as" not in body and 'name="name"' not in body  # the rest of the page stays as it is
    assert re.findall(r"<h2 class=\"step-title\">Step (\d)</h2>", body) == ["1", "2", "3"]
    assert "Hello there</textarea>" in body  # what was typed in step 1 is kept
    assert re.search(r'<select id="type-2" name="type_2" autofocus>', body)
    assert '<p class="visually-hidden" role="status">Step 3 added.</p>' in body
    assert Sequence.query.count() == 0  # adding a step saves nothing


def test_adding_a_step_without_javascript_keeps_the_preview_contact(client, login_as, org):
    make_contact(org, email="ana@acme.example", name="Ana Able")
    zed = make_contact(org, email="zed@acme.example", name="Zed Zane")
    login_as("manager")
    response = client.post("/sequences/new", data=builder_form(add_step="1", contact_id=str(zed.id)))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page and re.findall(r"Step (\d)</h2>", page) == ["1", "2", "3"]
    assert re.search(rf'<option value="{zed.id}" selected>', page)


def test_editing_a_sequence_adds_a_step_to_it_without_saving(client, login_as, org):
    login_as("manager")
    client.post("/sequences/new", data=builder_form())
    sequence = Sequence.query.one()
    response = client.post(f"/sequences/{sequence.id}/edit", headers=HX, data=builder_form(add_step="1"))
    assert re.findall(r"Step (\d)</h2>", response.get_data(as_text=True)) == ["1", "2", "3"]
    assert len(Sequence.query.one().steps) == 2
