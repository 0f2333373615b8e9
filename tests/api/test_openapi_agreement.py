"""The document and the code agree where they used not to: which email addresses are taken, and
what an email step of a sequence needs. Each value goes through the API and through the
document's own schema (jsonschema, formats checked), and both must give the same answer."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.formats import email_values, email_values_within

from app.api.openapi import document
from app.contacts.service import clean_email
from app.errors import Invalid


def allows(schema_name: str, body: dict) -> bool:
    """Tell whether the document's schema `schema_name` allows `body`."""
    spec = document()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(body)


def pattern_allows(address: str) -> bool:
    from app.api.openapi_base import email_pattern

    return bool(re.search(email_pattern(), address))


def takes(address: str) -> bool:
    try:
        clean_email(address)
    except Invalid:
        return False
    return True


REFUSED = ["4@false.test", "pat@acme.TEST", "pat@mail.invalid", "pat@printer.local", "pat@localhost",
           "pat@hidden.onion", "pat@1.in-addr.arpa", "pat@[192.0.2.1]", '"pat acme"@acme.example', "pat@acme.123",
           "pat..acme@acme.example", ".pat@acme.example", "pat@-acme.example", "pat@acme_corp.example",
           "pat@acme.example.", "pat@@acme.example", "pat acme@acme.example", "pat@acme .example"]
TAKEN = ["4@false.example", "o'brien+crm@sub.acme.io", "{|}~@a.b", "pat@a.1b", "  pat@acme.example\n",
         "Pat.Acme@ACME.Example", "zoë@acme.example", "pat@exämple.com", "x@xn--80ak6aa92e.com"]


@pytest.mark.parametrize("address", REFUSED)
def test_an_address_the_api_refuses_the_document_refuses(client, org, admin_h, address):
    response = client.post("/api/v1/leads", json={"email": address}, headers=admin_h)
    assert response.status_code == 422 and "email" in response.json["fields"], response.json
    assert not allows("LeadCreate", {"email": address})
    assert not allows("EnrollmentCreate", {"contact_email": address})


@pytest.mark.parametrize("address", TAKEN)
def test_an_address_the_document_allows_the_api_takes(client, org, admin_h, address):
    assert allows("LeadCreate", {"email": address})
    response = client.post("/api/v1/leads", json={"email": address}, headers=admin_h)
    assert response.status_code == 201, response.json


def test_a_special_use_domain_is_refused_in_words_that_say_why(client, org, admin_h):
    response = client.post("/api/v1/leads", json={"email": "4@false.test"}, headers=admin_h)
    assert response.json["fields"]["email"].startswith("must be at a domain that can receive mail (")
    assert ".test" in response.json["fields"]["email"]
    spec = document()
    assert ".test" in spec["components"]["schemas"]["EnrollmentCreate"]["properties"]["contact_email"]["description"]


_PIECES = st.sampled_from([*"aZ09.-_@\"()<>[]\\,;:!#$%&'*+/=?^`{|}~ \t\n\x00\x1c\x7f\x85\u00a0\u00e9\u200b\ufffd",
                           "test", "arpa", "Local", "com", "123", "xn--", "example"])


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_whatever_the_pattern_refuses_the_api_refuses(text):
    """The document's negative examples are never taken (schemathesis sends them expecting a refusal)."""
    if not pattern_allows(text):
        assert not takes(text)


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(email_values(), email_values_within(5, 254)))
def test_the_addresses_schemathesis_makes_are_taken_exactly_when_the_pattern_allows_them(address):
    assert pattern_allows(address) == takes(address)


STEPS = [
    ({"type": "email", "subject": "Hi {{first_name}}", "body": "Hello"}, None),
    ({"type": "email", "subject": "", "body": "Hello"}, "steps[0].subject"),
    ({"type": "email", "subject": "   ", "body": "Hello"}, "steps[0].subject"),
    ({"type": "email", "body": "Hello"}, "steps[0].subject"),
    ({"type": "email", "subject": None, "body": "Hello"}, "steps[0].subject"),
    ({"type": "email", "subject": "Hi", "body": ""}, "steps[0].body"),
    ({"type": "email", "subject": "Hi", "body": " \n "}, "steps[0].body"),
    ({"type": "email", "subject": "Hi"}, "steps[0].body"),
    ({"type": "email", "subject": "Hi\nthere", "body": "Hello"}, "steps[0].subject"),
    ({"type": "email", "subject": "  Hi there \n", "body": "Hello"}, None),
    ({"type": "call"}, None),
    ({"type": "linkedin", "subject": "", "body": None}, None),
    ({"type": "call", "subject": "Two\nlines", "body": ""}, None),
]


@pytest.mark.parametrize("step, refused", STEPS, ids=[repr(s)[:60] for s, _ in STEPS])
def test_what_a_step_needs_is_what_the_document_says(client, org, admin_h, step, refused):
    body = {"name": "Agreement", "steps": [step]}
    response = client.post("/api/v1/sequences", json=body, headers=admin_h)
    if refused is None:
        assert response.status_code == 201, response.json
        assert allows("SequenceCreate", body)
    else:
        assert response.status_code == 422 and refused in response.json["fields"], response.json
        assert not allows("SequenceCreate", body)
