"""Odd input on the HTML side: huge ids on every id route, broken encodings in forms, and
what a browser cannot send but a script can. None of it is a 500 or stores broken text."""

import pytest
from flask import url_for

from app.auth.service import create_api_key
from app.models import Deal
from tests import factories
from tests.test_url_map import ID_KINDS, TENANT_CASES, _id, is_api, make_objects

BIG_IDS = [2**31, 2**31 + 7, 10**12, 2**63, 10**30]


@pytest.mark.parametrize("rule, method", TENANT_CASES, ids=map(_id, TENANT_CASES))
def test_every_id_route_answers_404_to_ids_past_the_integer_range(app, client, org, login_as, rule, method):
    mine = make_objects(org)
    headers = {}
    if is_api(rule):
        raw, _ = create_api_key(factories.user(org, "admin"), "big ids")
        headers = {"Authorization": f"Bearer {raw}"}
    else:
        login_as("admin")
    for big in BIG_IDS:
        # Every id in the URL in turn is the huge one; the others are real objects of the caller. (An
        # argument that is no number, e.g. an invitee's email, has its own refusal: tests/rooms.)
        for name in (n for n in rule.arguments if type(rule._converters[n]).__name__ == "IntegerConverter"):
            with app.test_request_context():
                url = _url_with(rule, mine, name, big)
            response = client.open(url, method=method, headers=headers, data={"stage_id": "1"})
            assert response.status_code == 404, f"{method} {url}: {response.status_code}"


def _url_with(rule, ids, name, big):
    """The rule's URL with the caller's own ids, except `name`, which is `big`."""
    values = {arg: ids[ID_KINDS[arg]] for arg in rule.arguments}
    # url_for refuses a value its converter would not match, so put the huge id in by hand.
    url = url_for(rule.endpoint, **{**values, name: 987_654_321})
    assert url.count("987654321") == 1
    return url.replace("987654321", str(big))


@pytest.mark.parametrize("field", ["owner", "pipeline_id", "owner_id"])
def test_huge_ids_in_query_strings_and_forms_are_not_500(client, org, login_as, field):
    pipeline = factories.pipeline(org)
    login_as("admin")
    for big in BIG_IDS + ["²", "٣", "-1", "1e3", " 12 "]:
        for url in (f"/deals/board/{pipeline.id}?{field}={big}", f"/deals/new?{field}={big}",
                    f"/imports/deals/export.csv?{field}={big}"):
            response = client.get(url)
            assert response.status_code in (200, 404), f"{url}: {response.status_code}"
        response = client.post(f"/deals/new?pipeline_id={pipeline.id}",
                               data={"title": "Huge owner", field: str(big)})
        assert response.status_code < 500
        response = client.post("/imports/", data={"kind": "deals", field: str(big)},
                               content_type="multipart/form-data")
        assert response.status_code < 500


def test_a_move_form_with_a_huge_stage_id_is_refused_calmly(client, org, login_as):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    login_as("admin")
    for big in ("2147483648", "99999999999", "2" * 40):
        for name in ("stage_id", "loss_reason_id"):
            data = {"stage_id": str(deal.stage_id), name: big}
            response = client.post(f"/deals/{deal.id}/move", data=data)
            assert response.status_code in (200, 302, 400, 404, 409, 422), response.status_code
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": "2147483648"})
    assert response.status_code == 400 and "Choose a stage" in response.get_data(as_text=True)


# Raw form bodies a browser would never send: the bytes of a UTF-16 surrogate (ED A0 80) in
# UTF-8, a stray continuation byte, an overlong NUL. Werkzeug keeps such %-escapes as plain text.
BROKEN = ["%ED%A0%80", "%80", "%C0%80", "%FF%FE", "caf%E9"]


@pytest.mark.parametrize("raw", BROKEN)
def test_broken_encodings_in_a_deal_form_never_store_broken_text(client, org, login_as, raw):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    login_as("admin")
    body = f"version={deal.version}&title=Acme{raw}&pain=Churn{raw}&icp_confirmed=y&next_step=x{raw}"
    response = client.post(f"/deals/{deal.id}/facts", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (302, 422), response.status_code
    multipart = (b"--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nAcme \xed\xa0\x80 \xff\r\n"
                 b"--B\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n"
                 + str(Deal.query.get(deal.id).version).encode() + b"\r\n--B--\r\n")
    response = client.post(f"/deals/{deal.id}/facts", data=multipart, content_type="multipart/form-data; boundary=B")
    assert response.status_code in (302, 422), response.status_code
    stored = Deal.query.get(deal.id)
    for text in [stored.title, *map(str, (stored.facts or {}).values()), stored.next_step or ""]:
        text.encode("utf-8")  # raises on a lone surrogate
    page = client.get(f"/deals/{deal.id}")
    assert page.status_code == 200
    export = client.get(f"/imports/deals/export.csv?pipeline_id={deal.pipeline_id}")
    assert export.status_code == 200 and stored.title in export.get_data(as_text=True)


def test_new_deal_form_with_broken_bytes_in_the_title_is_not_500(client, org, login_as):
    pipeline = factories.pipeline(org)
    login_as("admin")
    for raw in BROKEN:
        response = client.post(f"/deals/new?pipeline_id={pipeline.id}",
                               data=f"title=T{raw}&icp_confirmed=y&pain=P{raw}",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code in (302, 422), response.status_code
    for deal in Deal.query.all():
        deal.title.encode("utf-8")
