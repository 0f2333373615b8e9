"""The public form's proofs over HTTP: the minimum time counts from the first view, a page sent back after an
error keeps every answer, and a post without its proofs (token, one-use nonce, honeypot) is held, never lost."""

import re
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.leads import lead_forms
from app.models import Contact, Notification, Task
from app.models.leads import LeadSubmission
from tests.conftest import drain_queue
from tests.leads.conftest import token_of

CONSENT = "I agree to be contacted."


def page_seen(app, form, seconds_ago: float) -> str:
    """The token of a page the person first saw `seconds_ago` (as the hosted page issues it)."""
    return lead_forms.issue_token(app.config["SECRET_KEY"], form,
                                  first_view_ms=int((time.time() - seconds_ago) * 1000))


def test_after_an_error_the_fix_sent_at_once_is_accepted_with_consent_and_answers_kept(app, client, org,
                                                                                      make_form):
    form = make_form(consent_text=CONSENT)
    app.config["LEAD_FORM_MIN_SECONDS"] = 3
    try:
        data = {"_t": page_seen(app, form, 10), "f_email": "ana@example.org", "f_name": "Ana",
                "f_company": "Lima", "f_message": "Call me"}
        first = client.post(f"/f/{form.key}", data=data)  # consent not ticked
        html = first.get_data(as_text=True)
        assert first.status_code == 422 and "Your agreement is needed before we can contact you" in html
        for value in ("ana@example.org", "Ana", "Lima", "Call me"):
            assert value in html
        again = token_of(html)
        old = lead_forms.read_token(app.config["SECRET_KEY"], form, data["_t"])[0]
        new = lead_forms.read_token(app.config["SECRET_KEY"], form, again)[0]
        assert (new.nonce, new.first_view_ms) == (old.nonce, old.first_view_ms)  # the clock did not restart

        second = client.post(f"/f/{form.key}", data={**data, "_t": again, "f_email": "not-an-email",
                                                     "consent": "yes"})
        html = second.get_data(as_text=True)
        assert second.status_code == 422 and "must be an email address" in html
        assert re.search(r'name="consent" value="yes" checked', html)  # ticked stays ticked

        third = client.post(f"/f/{form.key}", data={**data, "_t": token_of(html), "consent": "yes"})
        assert third.status_code == 200 and "Thank you" in third.get_data(as_text=True)
    finally:
        app.config["LEAD_FORM_MIN_SECONDS"] = 0
    drain_queue()
    assert Contact.query.filter_by(email="ana@example.org").one().name == "Ana"
    assert LeadSubmission.query.one().status == "received"


def test_that_was_quick_keeps_the_first_view_so_the_next_send_after_the_minimum_passes(app, client, org,
                                                                                       make_form):
    form = make_form(consent_text=CONSENT)
    app.config["LEAD_FORM_MIN_SECONDS"] = 3
    try:
        data = {"_t": page_seen(app, form, 1), "f_email": "bo@example.org", "f_name": "Bo", "consent": "yes"}
        quick = client.post(f"/f/{form.key}", data=data)
        html = quick.get_data(as_text=True)
        assert quick.status_code == 400 and "That was quick!" in html
        assert re.search(r'name="consent" value="yes" checked', html) and 'value="bo@example.org"' in html
        token = lead_forms.read_token(app.config["SECRET_KEY"], form, token_of(html))[0]
        assert 1 <= token.age < 3  # counted from the first view, not from this page
        assert LeadSubmission.query.count() == 0
    finally:
        app.config["LEAD_FORM_MIN_SECONDS"] = 0


def test_the_same_token_with_other_answers_is_held_and_a_double_click_is_one_row(app, client, org, make_form):
    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    first = {"_t": token, "f_email": "cy@example.org", "f_name": "Cy"}
    for _ in range(2):  # a double click: the same answers again
        assert client.post(f"/f/{form.key}", data=first).status_code == 200
    replay = client.post(f"/f/{form.key}", data={**first, "f_email": "bot1@spam.example"})
    assert replay.status_code == 200 and "Thank you" in replay.get_data(as_text=True)
    drain_queue()
    rows = {s.payload["lead"]["email"]: s for s in LeadSubmission.query}
    assert set(rows) == {"cy@example.org", "bot1@spam.example"}
    assert rows["cy@example.org"].status == "received" and rows["cy@example.org"].processed_at is not None
    assert rows["bot1@spam.example"].status == "held"
    assert rows["bot1@spam.example"].held_reason == "Its page token had already been used for different answers."
    assert [c.email for c in Contact.query] == ["cy@example.org"]


def test_an_expired_or_forged_token_is_held(app, client, org, make_form):
    form = make_form()

    class DayOld(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 2 * 86400

    stale = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="lead-form", signer=DayOld).dumps(
        {"f": form.id, "n": "stale-nonce", "v": int(time.time() * 1000) - 2 * 86400_000})
    forged = URLSafeTimedSerializer("not-our-key", salt="lead-form").dumps({"f": form.id, "n": "x"})
    for email, token in (("old@example.org", stale), ("forged@example.org", forged)):
        response = client.post(f"/f/{form.key}", data={"_t": token, "f_email": email, "f_name": "P"})
        assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    drain_queue()
    reasons = {s.payload["lead"]["email"]: (s.status, s.held_reason) for s in LeadSubmission.query}
    assert reasons == {"old@example.org": ("held", "Its page had been open for more than a day."),
                       "forged@example.org": ("held", "Its page token is not one this form gave out.")}
    assert Contact.query.count() == 0


def test_held_posts_never_become_leads_tasks_or_notifications_even_through_the_sweep(client, org, make_form):
    from datetime import timedelta

    from app.leads.intake import process_all_pending, process_pending
    from app.models import utcnow

    form = make_form(high_intent="1")
    for i in range(5):
        client.post(f"/f/{form.key}", data={"f_email": f"anon{i}@spam.example", "f_name": "Anon"},
                    headers={"Origin": "http://localhost"})
    drain_queue()
    assert process_pending(utcnow() + timedelta(hours=1)) == 0 and process_all_pending() == 0
    assert LeadSubmission.query.filter_by(status="held").count() == 5
    assert Contact.query.count() == 0 and Task.query.count() == 0 and Notification.query.count() == 0


def test_a_page_framed_by_an_allowed_site_may_be_framed_by_it_only(client, org, make_form):
    allowed = make_form(allowed_origins="https://www.agency.example\nhttps://shop.example")
    framed = client.get(f"/f/{allowed.key}?embed=1")
    csp = framed.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.agency.example https://shop.example;" in csp
    assert "X-Frame-Options" not in framed.headers
    html = framed.get_data(as_text=True)
    assert 'class="public-form is-embedded"' in html and f'action="/f/{allowed.key}?embed=1"' in html
    alone = make_form(name="Not embeddable")
    page = client.get(f"/f/{alone.key}")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    snippet = lead_forms.embed_snippet(allowed, "https://crm.example")
    assert snippet.startswith(f'<iframe src="https://crm.example/f/{allowed.key}?embed=1" title="Contact us"')
    assert "<script" not in snippet and "<form" not in snippet


def test_an_embedded_form_with_a_redirect_offers_it_to_the_whole_page(app, client, org, make_form):
    form = make_form(allowed_origins="https://www.agency.example", redirect_url="https://www.agency.example/thanks")
    token = token_of(client.get(f"/f/{form.key}?embed=1").get_data(as_text=True))
    response = client.post(f"/f/{form.key}?embed=1", data={"_t": token, "f_email": "e@example.org", "f_name": "E"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Thank you" in html
    assert '<a href="https://www.agency.example/thanks" target="_top"' in html
