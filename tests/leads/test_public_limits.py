"""The public form's limits over HTTP: bodies over 256 KB are refused with the form's own page, and a NUL or
broken character anywhere in a post is a clear 400/422 that stores nothing."""

import pytest

from app.models import Contact
from app.models.leads import LeadSubmission
from tests.leads.conftest import token_of


def test_a_body_over_256_kb_is_refused_with_a_clear_page_in_the_forms_look(client, org, make_form):
    form = make_form(title="Talk to sales")
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    big = client.post(f"/f/{form.key}", data={"_t": token, "f_email": "big@example.org", "f_name": "B",
                                               "f_message": "x" * (256 * 1024)})
    html = big.get_data(as_text=True)
    assert big.status_code == 413 and "<title>Talk to sales</title>" in html
    assert "This form takes up to 256 KB of answers" in html and f'href="/f/{form.key}"' in html
    assert LeadSubmission.query.count() == 0
    small = client.post(f"/f/{form.key}", data={"_t": token, "f_email": "ok@example.org", "f_name": "B",
                                                 "f_message": "x" * 4000, "pad": "y" * (200 * 1024)})
    assert small.status_code == 200 and LeadSubmission.query.count() == 1


def test_a_body_without_a_length_is_cut_off_at_the_limit(client, org, make_form):
    form = make_form()
    body = b"f_email=s%40example.org&f_message=" + b"x" * (300 * 1024)
    response = client.post(f"/f/{form.key}", input_stream=__import__("io").BytesIO(body),
                           content_type="application/x-www-form-urlencoded",
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and LeadSubmission.query.count() == 0


def test_the_rest_of_the_app_keeps_its_larger_limit(client, org, make_form):
    response = client.post("/auth/login", data={"email": "a@b.example", "password": "x" * (300 * 1024)})
    assert response.status_code != 413


@pytest.mark.parametrize("field", ["ref", "utm_source", "utm_campaign", "consent", "_t", "website", "other"])
@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\ufffd"])
def test_a_nul_or_broken_character_outside_the_answers_is_a_clear_400(client, org, make_form, field, bad):
    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    data = {"_t": token, "f_email": "nul@example.org", "f_name": "N", field: bad}
    response = client.post(f"/f/{form.key}", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "not text we can keep" in html and 'value="nul@example.org"' in html
    assert "\x00" not in html
    assert LeadSubmission.query.count() == 0 and Contact.query.count() == 0


def test_a_nul_in_an_answer_is_named_beside_it(client, org, make_form):
    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    response = client.post(f"/f/{form.key}", data={"_t": token, "f_email": "n@example.org", "f_name": "A\x00B"})
    assert response.status_code == 422 and "contains characters that are not text" in response.get_data(as_text=True)
    assert LeadSubmission.query.count() == 0


def test_a_nul_in_the_pages_address_is_left_out_of_the_page(client, org, make_form):
    form = make_form()
    page = client.get(f"/f/{form.key}?ref=%00evil&utm_source=a%00b&utm_medium=mail").get_data(as_text=True)
    assert 'name="ref"' not in page and 'name="utm_source"' not in page and 'name="utm_medium" value="mail"' in page
