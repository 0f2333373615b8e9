import re

import pytest

from app.leads import lead_forms
from tests import factories
from tests.conftest import drain_queue

ROWS = [{"maps_to": "email", "label": "Work email", "required": True},
        {"maps_to": "name", "label": "Your name", "required": True},
        {"maps_to": "company", "label": "Company", "required": False},
        {"maps_to": "message", "label": "How can we help?", "required": False}]


@pytest.fixture
def make_form(org):
    def make(rows=None, **values):
        admin = factories.user(org, "admin")
        return lead_forms.save_form(admin, {"name": "Contact us", "follow_up_minutes": "30", **values},
                                    rows or ROWS)

    return make


def token_of(html: str) -> str:
    return re.search(r'name="_t" value="([^"]+)"', html).group(1)


@pytest.fixture
def fill(client):
    """Open the hosted page like a browser, then post it with these fields."""

    def post(form, headers=None, query="", **fields):
        page = client.get(f"/f/{form.key}{query}")
        assert page.status_code == 200
        data = {"_t": token_of(page.get_data(as_text=True))}
        for key in re.findall(r'name="(utm_[a-z]+|ref)" value="', page.get_data(as_text=True)):
            data[key] = re.search(rf'name="{key}" value="([^"]*)"', page.get_data(as_text=True)).group(1)
        data.update(fields)
        response = client.post(f"/f/{form.key}", data=data, headers=headers or {})
        drain_queue()  # the worker turns the stored submission into the lead
        return response

    return post
