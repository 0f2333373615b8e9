"""CSRF with the protection ON (the rest of the suite runs with it off): every state-changing
route refuses a request without a token and writes nothing; a failed check sends the user back
only to a page of this site; the API takes no cookie session, so it needs no token."""

import re

import pytest

from app.deals.forms import PREFIX
from tests import factories
from tests.api.conftest import row_counts
from tests.test_url_map import RULES, _id, build_url, is_api, make_objects

WRITES = [(rule, method) for rule, method in RULES if method in ("POST", "PUT", "PATCH", "DELETE")]
HTML_WRITES = [(rule, method) for rule, method in WRITES if not is_api(rule)]
API_WRITES = [(rule, method) for rule, method in WRITES if is_api(rule)]


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def token_from(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    return found.group(1) or found.group(2)


@pytest.fixture
def signed_in(client, org, csrf_on):
    """Sign in as the org's admin through the real form (which itself needs its token)."""
    user = factories.user(org, "admin")
    page = client.get("/auth/login").get_data(as_text=True)
    response = client.post("/auth/login", data={"email": user.email, "password": factories.PASSWORD,
                                                "csrf_token": token_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with client.session_transaction() as session:
        assert session["_user_id"] == str(user.id) and "_flashes" not in session
    return user


def test_sign_in_without_a_token_is_refused(client, org, csrf_on):
    user = factories.user(org, "admin")
    response = client.post("/auth/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "_user_id" not in session
        assert ("error", "Your form expired. Please try again.") in session.get("_flashes", [])


@pytest.mark.parametrize("rule, method", HTML_WRITES, ids=map(_id, HTML_WRITES))
def test_every_state_changing_page_refuses_a_request_without_a_token(app, client, org, signed_in, rule, method):
    ids = make_objects(org)
    with app.test_request_context():
        url = build_url(rule, ids)
    before = row_counts()
    response = client.open(url, method=method, data={"title": "Forged", "name": "Forged", "stage_id": "1"},
                           headers={"Referer": "https://evil.example/phish"})
    assert response.status_code == 302, f"{method} {url}: {response.status_code}"
    assert response.headers["Location"] == "/", "a failed check must not follow a foreign Referer"
    with client.session_transaction() as session:
        assert session.pop("_flashes", []) == [("error", "Your form expired. Please try again.")]
        assert session["_user_id"] == str(signed_in.id)  # refused for the token, not for the sign-in
    assert row_counts() == before, f"{method} {url} wrote without a token"
    response = client.open(url, method=method, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "Your form expired; reload the page." in response.get_data(as_text=True)
    assert row_counts() == before


def test_a_failed_check_returns_to_the_same_page_of_this_site(client, org, signed_in):
    deal = factories.make_deal(org)
    for referer, location in [
        (f"http://localhost/deals/{deal.id}?tab=history", f"/deals/{deal.id}?tab=history"),
        ("http://localhost//evil.example/x", "/"),
        ("https://evil.example/deals/1", "/"),
        ("http://localhost.evil.example/deals/1", "/"),
        ("javascript:alert(1)", "/"),
        ("http://[::1", "/"),
        ("", "/"),
    ]:
        response = client.post(f"/deals/{deal.id}/facts", data={"title": "x"}, headers={"Referer": referer})
        assert response.status_code == 302 and response.headers["Location"] == location, referer


def test_a_valid_token_passes_the_check(client, org, signed_in):
    deal = factories.make_deal(org, owner=signed_in)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    token = token_from(page)
    response = client.post(f"/deals/{deal.id}/facts", data={"version": deal.version, "title": "Renamed",
                                                             f"{PREFIX}icp_confirmed": "y", f"{PREFIX}pain": "Churn"},
                           headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "Renamed" in client.get(f"/deals/{deal.id}").get_data(as_text=True)


@pytest.mark.parametrize("rule, method", API_WRITES, ids=map(_id, API_WRITES))
def test_api_writes_need_a_key_not_a_cookie(app, client, org, signed_in, rule, method):
    ids = make_objects(org)
    with app.test_request_context():
        url = build_url(rule, ids)
    before = row_counts()
    response = client.open(url, method=method, json={"title": "Forged", "pipeline_id": ids["pipeline"],
                                                     "stage_id": ids["stage"], "version": 1})
    assert response.status_code == 401 and response.json["error"] == "unauthorized"
    assert row_counts() == before
