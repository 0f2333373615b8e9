"""Field patterns run in linear time (RE2): an admin's "(a+)+" cannot freeze the server, and a
pattern RE2 cannot run is refused when saved."""

import threading
import time
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

from app.auth.service import create_api_key
from app.models import FieldDef
from tests import factories

EVIL = "(a+)+"


def add_field(client, pipeline, pattern, label="Reference code", type_="long_text"):
    return client.post(f"/admin/pipelines/{pipeline.id}/fields", data={"label": label, "type": type_,
                                                                       "pattern": pattern})


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=PO)PO-[0-9]+", "a{1000}{1000}", "((((a{100}){100}){100}){100})"])
def test_a_pattern_re2_cannot_run_is_refused_at_save_with_a_clear_message(client, org, login_as, pattern):
    login_as("admin")
    pipeline = factories.pipeline(org)
    response = add_field(client, pipeline, pattern)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "is not a valid regular expression" in page and "no lookarounds or backreferences" in page
    assert FieldDef.query.filter_by(pipeline_id=pipeline.id, key="reference_code").count() == 0


@pytest.fixture
def evil_field(client, org, login_as):
    """A long-text field whose pattern backtracks exponentially on Python's `re`, saved by an admin."""
    login_as("admin")
    pipeline = factories.pipeline(org)
    assert add_field(client, pipeline, EVIL).status_code == 302
    return FieldDef.query.filter_by(pipeline_id=pipeline.id, key="reference_code").one()


def patch_fact(client, headers, deal, value):
    return client.patch(f"/api/v1/deals/{deal.id}", headers=headers,
                        json={"version": deal.version, "facts": {"reference_code": value}})


def test_a_10000_character_value_is_checked_against_a_catastrophic_pattern_quickly(client, org, evil_field):
    deal = factories.make_deal(org)
    raw, _ = create_api_key(factories.user(org, "admin"))
    headers = {"Authorization": f"Bearer {raw}"}
    started = time.perf_counter()
    refused = patch_fact(client, headers, deal, "a" * 9_999 + "b")
    elapsed = time.perf_counter() - started
    print(f"10,000-character value against {EVIL}: {elapsed * 1000:.1f} ms")
    assert refused.status_code == 422, refused.json
    assert "is not in the expected format" in str(refused.json)
    assert elapsed < 5  # Python's re would need about 2**10000 steps
    accepted = patch_fact(client, headers, deal, "a" * 10_000)
    assert accepted.status_code == 200 and accepted.json["facts"]["reference_code"] == "a" * 10_000


def test_a_catastrophic_pattern_does_not_stall_other_requests(app, org, evil_field):
    deal = factories.make_deal(org)
    deal_id, version = deal.id, deal.version
    raw, _ = create_api_key(factories.user(org, "admin"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    evil_answer = {}

    def evil_request():
        # 26 characters: several seconds of backtracking on Python's re (doubling per character).
        body = f'{{"version": {version}, "facts": {{"reference_code": "{"a" * 25}b"}}}}'.encode()
        request = urllib.request.Request(f"{base}/api/v1/deals/{deal_id}", data=body, method="PATCH",
                                         headers={"Authorization": f"Bearer {raw}",
                                                  "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            evil_answer["status"] = error.code

    try:
        evil = threading.Thread(target=evil_request)
        started = time.perf_counter()
        evil.start()
        time.sleep(0.05)
        with urllib.request.urlopen(f"{base}/auth/login", timeout=60) as response:
            assert response.status == 200
        other_elapsed = time.perf_counter() - started
        evil.join(60)
        evil_elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    print(f"while checking {EVIL}: another request answered in {other_elapsed * 1000:.0f} ms; "
          f"the check itself {evil_elapsed * 1000:.0f} ms")
    assert evil_answer == {"status": 422}
    assert other_elapsed < 2 and evil_elapsed < 5
