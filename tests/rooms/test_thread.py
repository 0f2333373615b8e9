"""The room's conversation through the real pages, CSRF on: the buyer writes in the thread, proposes another
date for their step and asks for a colleague to join; the rep answers, accepts or declines and approves
(the colleague's own link goes out through the outbox, with the same delivery truth as every email)."""

import re
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import (
    Activity,
    Notification,
    OutboundEmail,
    RoomColleague,
    RoomComment,
    RoomInvite,
    RoomStep,
)
from tests import factories
from tests.rooms.conftest import csrf_from, fresh, token_of

HX = {"HX-Request": "true"}


def another_browser():
    """Requests in a test share the test's app context, where Flask-WTF caches a request's CSRF token and
    Flask-Login its user, and the API its key's user (`g`): forget them, so the next request of a different client (buyer, rep or
    stranger) is read from its own session."""
    from flask import g

    g.pop("csrf_token", None)
    g.pop("_login_user", None)
    g.pop("api_user", None)


@pytest.fixture
def room(client, key_for, deal):
    """The deal's room, with Dana (buyer.example) invited: her link's token."""
    headers = key_for("rep")
    assert client.post(f"/api/v1/deals/{deal.id}/room", headers=headers).status_code == 201
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers,
                          json={"contact_email": "dana@buyer.example"}).json
    contact = RoomInvite.query.one().contact
    contact.name = "Dana Ortiz"
    db.session.commit()
    return token_of(invited["url"])


@pytest.fixture
def buyer(app, csrf_on):
    """The buyer's own browser: no account, no session but the room page's."""
    return app.test_client()


@pytest.fixture
def rep_page(client, login_as, deal, csrf_on):
    """The rep signed in; returns a function giving the deal page's HTML and its CSRF token."""
    app = client.application
    app.config["WTF_CSRF_ENABLED"] = False
    login_as("rep")
    app.config["WTF_CSRF_ENABLED"] = True

    def page():
        another_browser()
        html = client.get(f"/deals/{deal.id}").get_data(as_text=True)
        return html, csrf_from(html)
    return page


def post_in_room(buyer, token, path, **data):
    another_browser()
    page = buyer.get(f"/r/{token}")
    assert page.status_code == 200
    return buyer.post(f"/r/{token}{path}", data={"csrf_token": csrf_from(page.get_data(as_text=True)), **data})


def buyer_step(deal, title="Proposal sent and acknowledged"):
    return RoomStep.query.filter_by(title=title).one()


def test_the_buyer_writes_the_rep_is_told_and_answers_and_the_buyer_reads_the_answer(
        client, buyer, room, deal, rep_page):
    answer = post_in_room(buyer, room, "/comments", comment="Can legal see the MSA first?\n<b>Thanks</b>")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Your message is posted; the seller is told." in text
    assert "Can legal see the MSA first?" in text and "&lt;b&gt;Thanks&lt;/b&gt;" in text and "<b>Thanks" not in text
    told = Notification.query.filter_by(user_id=deal.owner_id, kind="room").one()
    assert "Dana Ortiz wrote in the room" in told.text and told.url.endswith("#room-thread")
    assert Activity.query.filter(Activity.body.contains("wrote in the deal room")).count() == 1
    html, csrf = rep_page()
    assert "Can legal see the MSA first?" in html
    posted = client.post(f"/deals/{deal.id}/room/comments", headers=HX,
                         data={"csrf_token": csrf, "comment": "Yes: attached below."})
    assert posted.status_code == 200
    assert "Posted to the room&#39;s thread." in posted.get_data(as_text=True)
    page = buyer.get(f"/r/{room}").get_data(as_text=True)
    assert page.index("Can legal see the MSA first?") < page.index("Yes: attached below.")  # reads down


@pytest.mark.parametrize("body, status, said", [
    ("", 422, "The comment is required"),
    ("x" * 2001, 422, "The comment must be at most 2,000 characters"),
    ("null\x00byte", 422, "The comment"),
])
def test_a_message_that_cannot_be_kept_is_refused_on_the_page_and_nothing_is_written(
        buyer, room, body, status, said):
    answer = post_in_room(buyer, room, "/comments", comment=body)
    assert answer.status_code == status and said in answer.get_data(as_text=True)
    assert RoomComment.query.count() == 0 and Notification.query.filter_by(kind="room").count() == 0


def test_a_refused_message_keeps_what_was_typed(buyer, room, deal):
    from app.rooms import thread

    old, thread.MAX_COMMENTS = thread.MAX_COMMENTS, 0  # the thread is full
    try:
        answer = post_in_room(buyer, room, "/comments", comment="Still there?")
    finally:
        thread.MAX_COMMENTS = old
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "at most 0 messages" in text and ">Still there?</textarea>" in text


def test_broken_bytes_a_huge_body_a_stale_page_and_a_revoked_link_write_nothing(buyer, room, client, key_for, deal):
    page = buyer.get(f"/r/{room}").get_data(as_text=True)
    csrf = csrf_from(page)
    form = "application/x-www-form-urlencoded"
    broken = buyer.post(f"/r/{room}/comments", data=f"csrf_token={csrf}&comment=%ED%A0%80", content_type=form)
    assert broken.status_code == 400 and "not text we can keep" in broken.get_data(as_text=True)
    huge = buyer.post(f"/r/{room}/comments", data={"csrf_token": csrf, "comment": "x" * 200_000})
    assert huge.status_code == 413
    stale = buyer.post(f"/r/{room}/comments", data={"csrf_token": "stale", "comment": "hello"})
    assert stale.status_code == 400 and "expired" in stale.get_data(as_text=True)
    client.delete(f"/api/v1/deals/{deal.id}/room/invites/dana@buyer.example", headers=key_for("rep"))
    gone = buyer.post(f"/r/{room}/comments", data={"csrf_token": csrf, "comment": "hello"})
    assert gone.status_code == 404
    assert RoomComment.query.count() == 0


def test_the_buyer_proposes_another_date_and_the_rep_accepts_it(client, buyer, room, deal, rep_page):
    step = buyer_step(deal)
    wanted = date.today() + timedelta(days=9)
    answer = post_in_room(buyer, room, f"/steps/{step.id}/propose", due_on=wanted.isoformat(), note="CFO away")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and f"You proposed {wanted:%-d %b %Y}" in text
    assert "waiting for the seller to accept it" in text
    assert "proposed" in Notification.query.filter_by(user_id=deal.owner_id, kind="room").one().text
    html, csrf = rep_page()
    assert "Waiting on you" in html and "CFO away" in html
    accepted = client.post(f"/deals/{deal.id}/room/steps/{step.id}/date", headers=HX,
                           data={"csrf_token": csrf, "decision": "accept"})
    assert f"is now due {wanted:%-d %b}" in accepted.get_data(as_text=True)
    step = fresh(RoomStep, step.id)
    assert step.due_on == wanted and step.proposed_on is None
    page = buyer.get(f"/r/{room}").get_data(as_text=True)
    assert "waiting for the seller" not in page and f"by {wanted.day} {wanted:%b}" in page


def test_a_declined_date_leaves_the_step_as_it_was(client, buyer, room, deal, rep_page):
    step = buyer_step(deal)
    post_in_room(buyer, room, f"/steps/{step.id}/propose", due_on=(date.today() + timedelta(days=3)).isoformat())
    _, csrf = rep_page()
    declined = client.post(f"/deals/{deal.id}/room/steps/{step.id}/date", headers=HX,
                           data={"csrf_token": csrf, "decision": "decline"})
    assert "is declined" in declined.get_data(as_text=True)
    step = fresh(RoomStep, step.id)
    assert step.due_on is None and step.proposed_on is None
    again = client.post(f"/deals/{deal.id}/room/steps/{step.id}/date", headers=HX,
                        data={"csrf_token": csrf, "decision": "accept"})
    assert again.status_code == 422 and "no proposed date" in again.get_data(as_text=True)


def test_a_proposal_in_the_past_or_for_a_step_that_is_not_the_buyers_is_refused(buyer, room, deal):
    step = buyer_step(deal)
    past = post_in_room(buyer, room, f"/steps/{step.id}/propose", due_on="2020-01-01")
    text = past.get_data(as_text=True)
    assert past.status_code == 422 and "must be today or later" in text and 'value="2020-01-01"' in text
    nonsense = post_in_room(buyer, room, f"/steps/{step.id}/propose", due_on="31/12/2030")
    assert nonsense.status_code == 422 and "must be a date" in nonsense.get_data(as_text=True)
    assert post_in_room(buyer, room, "/steps/99999999999/propose", due_on="2030-01-01").status_code == 404
    other_org = factories.make_org(templates=["article"], buyer_confirms=True)
    other = factories.make_deal(other_org)
    from app.rooms.service import add_step, open_room

    foreign = add_step(open_room(other, other.owner)[0], other.owner, title="Theirs", side="buyer")
    assert post_in_room(buyer, room, f"/steps/{foreign.id}/propose", due_on="2030-01-01").status_code == 404
    assert fresh(RoomStep, foreign.id).proposed_on is None and fresh(RoomStep, step.id).proposed_on is None


def test_the_buyer_asks_for_a_colleague_the_rep_approves_and_the_colleague_gets_their_own_link(
        client, buyer, room, deal, rep_page, drain, app, tmp_path):
    refused = post_in_room(buyer, room, "/colleagues", email="sam@elsewhere.example", name="Sam Lee")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "must be at buyer.example" in text and 'value="sam@elsewhere.example"' in text
    asked = post_in_room(buyer, room, "/colleagues", email="Sam@Buyer.example", name="Sam Lee")
    assert asked.status_code == 200 and "Once the seller approves" in asked.get_data(as_text=True)
    twice = post_in_room(buyer, room, "/colleagues", email="sam@buyer.example")
    assert twice.status_code == 422 and "already waiting" in twice.get_data(as_text=True)
    assert RoomInvite.query.count() == 1  # nobody has a link before the rep approves
    html, csrf = rep_page()
    assert "Sam Lee &lt;sam@buyer.example&gt;" in html
    ask = RoomColleague.query.one()
    app.instance_path, old = str(tmp_path), app.instance_path
    try:
        approved = client.post(f"/deals/{deal.id}/room/colleagues/{ask.id}", headers=HX,
                               data={"csrf_token": csrf, "decision": "approve"})
        said = approved.get_data(as_text=True)
        assert "Approved: sam@buyer.example is invited" in said and "email queued" in said
        drain()
        [eml] = list((tmp_path / "outbox").iterdir())
    finally:
        app.instance_path = old
    link = re.search(rb"https://\S+/r/[A-Za-z0-9_-]+", eml.read_bytes()).group(0).decode()
    sams = app.test_client().get(f"/r/{token_of(link)}")
    assert sams.status_code == 200 and "Shared with Sam Lee" in sams.get_data(as_text=True)
    assert "emailed" in rep_page()[0]
    assert buyer.get(f"/r/{room}").status_code == 200  # Dana's link still works


def test_a_declined_colleague_gets_no_link_and_cannot_be_asked_for_again(client, buyer, room, deal, rep_page):
    post_in_room(buyer, room, "/colleagues", email="sam@buyer.example")
    _, csrf = rep_page()
    ask = RoomColleague.query.one()
    declined = client.post(f"/deals/{deal.id}/room/colleagues/{ask.id}", headers=HX,
                           data={"csrf_token": csrf, "decision": "decline"})
    assert "Declined: sam@buyer.example was not invited." in declined.get_data(as_text=True)
    assert RoomInvite.query.count() == 1 and OutboundEmail.query.count() == 0
    again = post_in_room(buyer, room, "/colleagues", email="sam@buyer.example")
    assert again.status_code == 422 and "asked for before" in again.get_data(as_text=True)


def test_another_organisations_rep_cannot_decide_or_answer(app, buyer, room, deal):
    post_in_room(buyer, room, "/colleagues", email="sam@buyer.example")
    ask = RoomColleague.query.one()
    other_org = factories.make_org(templates=["article"])
    outsider = factories.user(other_org, "admin")
    stranger = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    signed = stranger.post("/auth/login", data={"email": outsider.email, "password": factories.PASSWORD})
    assert signed.location == "/"
    another_browser()
    assert stranger.post(f"/deals/{deal.id}/room/colleagues/{ask.id}", data={"decision": "approve"}).status_code == 404
    assert stranger.post(f"/deals/{deal.id}/room/comments", data={"comment": "hi"}).status_code == 404
    assert fresh(RoomColleague, ask.id).status == "pending" and RoomComment.query.count() == 0


def test_an_invitation_the_relay_refuses_shows_as_bounced_beside_the_invitee(
        client, smtp, key_for, deal, drain, rep_page):
    smtp(refuse=["gone@buyer.example"])
    client.post(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep"))
    client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=key_for("rep"),
                json={"contact_email": "gone@buyer.example", "send": True})
    drain()
    email = OutboundEmail.query.one()
    assert email.status == "bounced" and email.message == b""
    html, _ = rep_page()
    assert "gone@buyer.example" in html and "email bounced" in html
    outbox = client.get("/sequences/outbox?state=bounced").get_data(as_text=True)
    assert outbox.count('class="record outbox-row"') == 1 and "gone@buyer.example" in outbox
    assert f'<a href="/deals/{deal.id}#room">Deal room link: Our plan for' in outbox and "Relay: " in outbox
    assert Notification.query.filter_by(user_id=deal.owner_id).filter(Notification.text.contains("bounced")).count() == 1


def test_revoking_before_the_email_goes_keeps_the_dead_link_from_being_sent(client, key_for, deal, drain, app,
                                                                              tmp_path):
    client.post(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep"))
    client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=key_for("rep"),
                json={"contact_email": "dana@buyer.example", "send": True})
    client.delete(f"/api/v1/deals/{deal.id}/room/invites/dana@buyer.example", headers=key_for("rep"))
    app.instance_path, old = str(tmp_path), app.instance_path
    try:
        drain()
        assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").iterdir())
    finally:
        app.instance_path = old
    email = OutboundEmail.query.one()
    assert email.status == "skipped" and "revoked" in email.error and email.message == b""


def test_the_rep_rewords_a_step_moves_its_date_and_removes_one_they_added(client, buyer, room, deal, rep_page):
    from app.rooms.service import add_step, get_room

    step = buyer_step(deal)
    extra = add_step(get_room(fresh(type(deal), deal.id)), deal.owner, title="Send logo files", side="buyer")
    _, csrf = rep_page()
    due = date.today() + timedelta(days=5)
    saved = client.post(f"/deals/{deal.id}/room/steps/{step.id}", headers=HX, data={
        "csrf_token": csrf, "title": "Your CFO acknowledges the proposal", "due_on": due.isoformat()})
    assert "Step “Your CFO acknowledges the proposal” saved; the buyer sees it now." in saved.get_data(as_text=True)
    page = buyer.get(f"/r/{room}").get_data(as_text=True)
    assert "Your CFO acknowledges the proposal" in page and f"by {due.day} {due:%b}" in page
    kept = client.post(f"/deals/{deal.id}/room/steps/{step.id}", headers=HX,
                       data={"csrf_token": csrf, "title": "x", "remove": "1"})
    assert kept.status_code == 422 and "confirms a fact the gate requires" in kept.get_data(as_text=True)
    removed = client.post(f"/deals/{deal.id}/room/steps/{extra.id}", headers=HX,
                          data={"csrf_token": csrf, "remove": "1"})
    assert "“Send logo files” is off the plan." in removed.get_data(as_text=True)
    assert "Send logo files" not in buyer.get(f"/r/{room}").get_data(as_text=True)
    blank = client.post(f"/deals/{deal.id}/room/steps/{step.id}", headers=HX,
                        data={"csrf_token": csrf, "title": "  ", "due_on": "2030-02-30"})
    assert blank.status_code == 422 and fresh(RoomStep, step.id).title == "Your CFO acknowledges the proposal"
    assert client.post(f"/deals/{deal.id}/room/steps/99999999999", headers=HX,
                       data={"csrf_token": csrf, "title": "x"}).status_code == 404
