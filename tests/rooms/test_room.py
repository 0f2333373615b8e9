"""The deal room end to end through HTTP: the rep opens it and invites the buyer, the buyer confirms a
step by typing their name, the fact is written as the buyer's, and only then does the gate pass."""

import re
from datetime import timedelta

from app.extensions import db
from app.models import Activity, Deal, Notification, RoomInvite, RoomStep, utcnow
from tests import factories
from tests.rooms.conftest import csrf_from, fresh, row_counts, step_named, token_of

DM = "DM meeting scheduled"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"


def _open_and_invite(client, headers, deal, email="dana@buyer.example"):
    opened = client.post(f"/api/v1/deals/{deal.id}/room", headers=headers)
    assert opened.status_code == 201, opened.json
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers, json={"contact_email": email})
    assert invited.status_code == 201, invited.json
    return opened.json, invited.json


def _confirm(client, token, step_id, name="Dana Ortiz", **extra):
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    data = {"name": name, "csrf_token": csrf_from(page.get_data(as_text=True)), **extra}
    return client.post(f"/r/{token}/steps/{step_id}/confirm", data=data, headers={"User-Agent": UA},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"})


def test_opening_a_room_makes_a_buyer_step_for_each_fact_only_the_buyer_confirms(client, key_for, deal):
    room, _ = _open_and_invite(client, key_for("rep"), deal)
    assert [(s["title"], s["side"], s["requirement"], s["status"]) for s in room["steps"]] == [
        (DM, "buyer", "dm_meeting_date", "open"),
        ("Proposal sent and acknowledged", "buyer", "proposal_acknowledged", "open"),
        ("Terms accepted or revised", "buyer", "terms_status", "open"),
        ("Contract signed", "buyer", "contract_signed", "open")]
    again = client.post(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep"))
    assert again.status_code == 200 and again.json == room
    assert client.get(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep")).json == room


def test_pipelines_say_which_requirements_only_the_buyer_meets(client, key_for, org):
    stages = {s["name"]: s for s in client.get("/api/v1/pipelines", headers=key_for("rep")).json[0]["stages"]}
    assert stages["Discovery"]["requirements"]["buyer"] == ["dm_meeting_date"]
    assert stages["Proposal"]["requirements"]["buyer"] == ["proposal_acknowledged"]
    assert stages["Closed Won"]["requirements"]["buyer"] == ["contract_signed"]
    assert stages["Qualified"]["requirements"]["buyer"] == []


def test_the_gate_refuses_a_buyer_fact_the_rep_typed_and_passes_once_the_buyer_confirms(client, key_for, deal, csrf_on):
    rep = key_for("rep")
    discovery = factories.stage(factories.pipeline(deal_org(deal)), "Discovery")
    room, invited = _open_and_invite(client, rep, deal)
    typed = client.post(f"/api/v1/deals/{deal.id}/move", headers=rep,
                        json={"stage_id": discovery.id, "facts": {"dm_meeting_date": "2030-01-15"}})
    assert typed.status_code == 422 and typed.json["error"] == "gate"
    assert typed.json["missing"] == [{"field": "dm_meeting_date", "label": DM, "when": "entry",
                                      "stage_id": discovery.id, "buyer": True}]
    assert "confirmed by the buyer in the deal room" in typed.json["message"]
    assert "dm_meeting_date" not in fresh(Deal, deal.id).facts  # a refused move writes nothing

    confirmed = _confirm(client, token_of(invited["url"]), step_named(room, DM)["id"])
    assert confirmed.status_code == 200
    assert "Thank you, Dana Ortiz" in confirmed.get_data(as_text=True)
    stored = fresh(Deal, deal.id)
    assert stored.stage_id != discovery.id  # a confirmation never moves the deal
    assert stored.facts_meta["dm_meeting_date"]["source"] == "buyer"
    assert stored.facts_meta["dm_meeting_date"]["by"] == "dana@buyer.example"
    api_deal = client.get(f"/api/v1/deals/{deal.id}", headers=rep).json
    assert api_deal["facts_meta"]["dm_meeting_date"]["source"] == "buyer"

    moved = client.post(f"/api/v1/deals/{deal.id}/move", headers=rep, json={"stage_id": discovery.id})
    assert moved.status_code == 200, moved.json
    assert moved.json["stage_id"] == discovery.id


def deal_org(deal):
    from app.models import Organization

    return db.session.get(Organization, deal.org_id)


def test_a_confirmation_records_who_when_where_and_tells_the_owner_when_the_next_move_is_ready(
        client, key_for, deal, csrf_on):
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    step_id = step_named(room, DM)["id"]
    assert _confirm(client, token_of(invited["url"]), step_id, name="  Dana Ortiz ").status_code == 200
    step = fresh(RoomStep, step_id)
    assert (step.status, step.confirmed_name, step.confirmed_by) == ("done", "Dana Ortiz", "dana@buyer.example")
    assert step.confirmed_ip == "203.0.113.7" and step.confirmed_user_agent == UA
    assert utcnow() - step.confirmed_at < timedelta(minutes=1)
    [note] = Notification.query.filter_by(user_id=deal.owner_id, kind="room").all()
    assert note.text == f"{DM}: ready to move to Discovery"
    [activity] = Activity.query.filter_by(deal_id=deal.id, kind="room").all()
    assert "Dana Ortiz" in activity.body and DM in activity.body
    shown = client.get(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep")).json
    assert step_named(shown, DM)["confirmed_by"] == "dana@buyer.example" and step_named(shown, DM)["status"] == "done"
    again = _confirm(client, token_of(invited["url"]), step_id)
    assert again.status_code == 422 and "already confirmed" in again.get_data(as_text=True)


def test_a_manager_overrides_a_missing_buyer_confirmation_with_a_reason_and_a_rep_cannot(client, key_for, deal):
    discovery = factories.stage(factories.pipeline(deal_org(deal)), "Discovery")
    body = {"stage_id": discovery.id, "facts": {"dm_meeting_date": "2030-01-15"},
            "override_reason": "Buyer confirmed by phone; no email access this week"}
    assert client.post(f"/api/v1/deals/{deal.id}/move", headers=key_for("rep"), json=body).status_code == 403
    moved = client.post(f"/api/v1/deals/{deal.id}/move", headers=key_for("manager"), json=body)
    assert moved.status_code == 200, moved.json
    record = moved.json["facts_meta"]["dm_meeting_date"]
    assert record["source"] == "override" and record["reason"].startswith("Buyer confirmed by phone")
    assert record["by"] == factories.user(deal_org(deal), "manager").email
    history = client.get(f"/api/v1/deals/{deal.id}/transitions", headers=key_for("rep")).json
    assert history[-1]["kind"] == "override" and history[-1]["override"] is True


def test_the_page_shows_the_plan_and_team_but_never_facts_notes_or_amounts(client, key_for, deal):
    _, invited = _open_and_invite(client, key_for("rep"), deal)
    html = client.get(f"/r/{token_of(invited['url'])}").get_data(as_text=True)
    assert DM in html and "Contract signed" in html and "Rae Rep" in html
    assert "1,000" not in html and "1000" not in html  # the deal's amount
    for value in (deal.facts or {}).values():
        if isinstance(value, str) and len(value) > 4:
            assert value not in html
    assert 'name="name"' in html and "<script" not in html  # a plain form: works without script


def test_a_revoked_link_is_a_calm_404_and_writes_nothing(client, key_for, deal, csrf_on):
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    page = client.get(f"/r/{token}").get_data(as_text=True)
    revoked = client.delete(f"/api/v1/deals/{deal.id}/room/invites/dana@buyer.example", headers=key_for("rep"))
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    before = row_counts()
    gone = client.post(f"/r/{token}/steps/{step_named(room, DM)['id']}/confirm",
                       data={"name": "Dana Ortiz", "csrf_token": csrf_from(page)})
    assert gone.status_code == 404 and "This link is not available" in gone.get_data(as_text=True)
    assert client.get(f"/r/{token}").status_code == 404
    assert row_counts() == before and fresh(RoomStep, step_named(room, DM)["id"]).status == "open"


def test_a_new_invitation_replaces_the_persons_older_link(client, key_for, deal):
    _, first = _open_and_invite(client, key_for("rep"), deal)
    second = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=key_for("rep"),
                         json={"contact_email": "DANA@buyer.example"}).json
    assert second["url"] != first["url"]
    assert client.get(f"/r/{token_of(first['url'])}").status_code == 404
    assert client.get(f"/r/{token_of(second['url'])}").status_code == 200


def test_links_lapse_30_days_after_the_deal_closed(client, key_for, deal, csrf_on):
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    page = client.get(f"/r/{token}").get_data(as_text=True)
    stored = fresh(Deal, deal.id)
    stored.status, stored.closed_at = "lost", utcnow() - timedelta(days=29)
    db.session.commit()
    assert client.get(f"/r/{token}").status_code == 200  # closed, but under 30 days ago
    stored.closed_at = utcnow() - timedelta(days=31)
    db.session.commit()
    before = row_counts()
    assert client.get(f"/r/{token}").status_code == 404
    late = client.post(f"/r/{token}/steps/{step_named(room, DM)['id']}/confirm",
                       data={"name": "Dana Ortiz", "csrf_token": csrf_from(page)})
    assert late.status_code == 404 and row_counts() == before


def test_a_token_reaches_only_its_own_rooms_steps(client, key_for, deal, csrf_on):
    other_org = factories.make_org(templates=["article"], buyer_confirms=True)
    other_deal = factories.make_deal(other_org)
    other_key = key_for("admin", in_org=other_org)
    other_room, _ = _open_and_invite(client, other_key, other_deal, "someone@else.example")
    _, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    before = row_counts()
    for step in other_room["steps"]:
        assert _confirm(client, token, step["id"]).status_code == 404
    assert row_counts() == before
    assert client.get(f"/api/v1/deals/{other_deal.id}/room", headers=key_for("rep")).status_code == 404
    assert client.post(f"/api/v1/deals/{other_deal.id}/room/invites", headers=key_for("admin"),
                       json={"contact_email": "x@y.example"}).status_code == 404


def test_a_post_without_the_pages_csrf_token_is_refused_and_writes_nothing(client, key_for, deal, csrf_on):
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    client.get(f"/r/{token}")
    before = row_counts()
    refused = client.post(f"/r/{token}/steps/{step_named(room, DM)['id']}/confirm", data={"name": "Dana Ortiz"})
    assert refused.status_code == 400 and "nothing was confirmed" in refused.get_data(as_text=True)
    forged = client.post(f"/r/{token}/steps/{step_named(room, DM)['id']}/confirm",
                         data={"name": "Dana Ortiz", "csrf_token": "forged"})
    assert forged.status_code == 400 and row_counts() == before


def test_odd_names_and_ids_get_a_clear_4xx_and_write_nothing(client, key_for, deal, csrf_on):
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    step_id = step_named(room, DM)["id"]
    page = client.get(f"/r/{token}").get_data(as_text=True)
    csrf = csrf_from(page)
    before = row_counts()
    url = f"/r/{token}/steps/{step_id}/confirm"
    for name, status in (("Dana\x00Ortiz", 422), ("", 422), ("   ", 422), ("D" * 201, 422)):
        answer = client.post(url, data={"name": name, "csrf_token": csrf})
        assert answer.status_code == status, (name[:10], answer.status_code)
        assert "Nothing was confirmed" in answer.get_data(as_text=True)
    # A lone surrogate cannot travel as UTF-8: the bytes of one ("\ud800" in CESU-8) decode to U+FFFD.
    surrogate = client.post(url, data=b"name=%ED%A0%80&csrf_token=" + csrf.encode(),
                            content_type="application/x-www-form-urlencoded")
    assert surrogate.status_code == 400 and "Nothing was confirmed" in surrogate.get_data(as_text=True)
    huge = client.post(url, data={"name": "D" * 100_000, "csrf_token": csrf})
    assert huge.status_code == 413
    for odd_step in (2**31, 2**40, 0):
        assert client.post(f"/r/{token}/steps/{odd_step}/confirm",
                           data={"name": "Dana Ortiz", "csrf_token": csrf}).status_code == 404
    assert client.get(f"/r/{'x' * 5000}").status_code == 404
    assert row_counts() == before


def test_the_api_refuses_odd_room_input_naming_the_field(client, key_for, deal):
    rep = key_for("rep")
    client.post(f"/api/v1/deals/{deal.id}/room", headers=rep)
    before = row_counts()
    cases = [("invites", {"contact_email": "dana\u0000@buyer.example"}, "contact_email"),
             ("invites", {"contact_email": "not an email"}, "contact_email"),
             ("invites", {"contact_email": "d@b.example", "send": "yes"}, "send"),
             ("steps", {"title": "Sign", "side": "both"}, "side"),
             ("steps", {"title": "   "}, "title"),
             ("steps", {"title": "T" * 201}, "title"),
             ("steps", {"title": "Sign", "side": "seller", "requirement": "contract_signed"}, "requirement"),
             ("steps", {"title": "Sign", "requirement": "no_such_field"}, "requirement"),
             ("steps", {"title": "Sign", "due_on": "2030-02-30"}, "due_on")]
    for path, body, field in cases:
        answer = client.post(f"/api/v1/deals/{deal.id}/room/{path}", headers=rep, json=body)
        assert answer.status_code == 422 and field in answer.json["fields"], (body, answer.json)
    surrogate = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers={**rep, "Content-Type": "application/json"},
                            data=b'{"contact_email": "d\\ud800@b.example"}')
    assert surrogate.status_code == 422 and "contact_email" in surrogate.json["fields"]
    assert client.post(f"/api/v1/deals/{2**31}/room", headers=rep).status_code == 404
    assert client.delete(f"/api/v1/deals/{deal.id}/room/invites/nobody@x.example", headers=rep).status_code == 404
    assert row_counts() == before


def test_a_rep_cannot_change_a_room_of_someone_elses_deal(client, key_for, org, deal):
    from app.auth.service import create_user

    other_rep = create_user(org, "other.rep@org.example.com", "Olly Other", "rep", factories.PASSWORD)
    answer = client.post(f"/api/v1/deals/{deal.id}/room", headers=key_for(who=other_rep))
    assert answer.status_code == 403


def test_the_token_is_stored_only_as_its_hash(client, key_for, deal):
    _, invited = _open_and_invite(client, key_for("rep"), deal)
    token = token_of(invited["url"])
    assert len(token) >= 43  # 32 random bytes: 256 bits
    row = RoomInvite.query.one()
    import hashlib

    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    for table in db.metadata.sorted_tables:
        for values in db.session.execute(db.select(table)).all():
            assert not any(isinstance(v, str) and token in v for v in values), table.name


def test_send_emails_the_link_through_the_outbox_and_forgets_it(client, key_for, deal, drain, app, tmp_path):
    from app.models import OutboundEmail

    app.instance_path, old = str(tmp_path), app.instance_path
    try:
        sent = client.post(f"/api/v1/deals/{deal.id}/room", headers=key_for("rep"))
        assert sent.status_code == 201
        invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=key_for("rep"),
                              json={"contact_email": "dana@buyer.example", "send": True}).json
        email = OutboundEmail.query.one()
        assert email.kind == "room" and email.sealed and email.status == "queued"
        assert token_of(invited["url"]).encode() not in email.message  # encrypted while it waits
        assert RoomInvite.query.one().email_id == email.id
        drain()
        email = OutboundEmail.query.one()
        assert email.status == "sent" and email.message == b""  # the link is forgotten once handed over
        [eml] = list((tmp_path / "outbox").iterdir())
        assert invited["url"].encode() in eml.read_bytes()
    finally:
        app.instance_path = old


def test_the_board_card_shows_a_buyer_step_past_its_date_until_the_buyer_confirms(client, key_for, login_as, deal):
    from datetime import date

    from app.rooms.service import add_step, get_room

    headers = key_for("rep")
    client.post(f"/api/v1/deals/{deal.id}/room", headers=headers)
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers,
                          json={"contact_email": "dana@buyer.example"}).json
    rep = factories.user(deal_org(deal), "rep")
    step = add_step(get_room(fresh(Deal, deal.id)), rep, title="Security questionnaire", side="buyer",
                    due_on=(date.today() - timedelta(days=2)).isoformat())
    db.session.commit()
    login_as("rep")
    board = client.get(f"/deals/board/{deal.pipeline_id}").get_data(as_text=True)
    card = board[board.index(f'id="card-{deal.id}"'):][:3000]
    assert "Buyer step overdue" in card
    assert board.count("Buyer step overdue") == 1  # only this deal's card
    assert _confirm(client, token_of(invited["url"]), step.id).status_code == 200
    board = client.get(f"/deals/board/{deal.pipeline_id}").get_data(as_text=True)
    assert "Buyer step overdue" not in board


def test_the_move_and_the_audit_keep_who_confirmed_each_fact(client, key_for, login_as, deal, csrf_on):
    """A move records where each fact it passed on came from; the deal audit says it ("Confirmed by …")."""
    rep = key_for("rep")
    discovery = factories.stage(factories.pipeline(deal_org(deal)), "Discovery")
    room, invited = _open_and_invite(client, rep, deal)
    assert _confirm(client, token_of(invited["url"]), step_named(room, DM)["id"]).status_code == 200
    moved = client.post(f"/api/v1/deals/{deal.id}/move", headers=rep, json={"stage_id": discovery.id})
    assert moved.status_code == 200, moved.json
    move = client.get(f"/api/v1/deals/{deal.id}/transitions", headers=rep).json[-1]
    dm = next(c for c in move["criteria"] if c["field"] == "dm_meeting_date")
    assert dm["met"] is True and dm["source"]["source"] == "buyer" and dm["source"]["by"] == "dana@buyer.example"
    lost = factories.stage(factories.pipeline(deal_org(deal)), "Closed Lost")
    from app.models import LossReason

    reason = LossReason.query.filter_by(org_id=deal.org_id).first()
    closed = client.post(f"/api/v1/deals/{deal.id}/move", headers=rep,
                         json={"stage_id": lost.id, "loss_reason_id": reason.id})
    assert closed.status_code == 200, closed.json
    app_config = __import__("flask").current_app.config
    app_config["WTF_CSRF_ENABLED"] = False
    login_as("manager")
    audit = client.get(f"/reports/{deal.pipeline_id}/audit").get_data(as_text=True)
    assert re.search(r'DM meeting scheduled <small class="fact-source" title="Confirmed by dana@buyer\.example, '
                     r'\d+ \w+ \d\d:\d\d UTC">\(buyer: dana@buyer\.example\)</small>', audit)


def test_the_board_card_counts_a_fact_the_rep_typed_as_missing_while_only_the_buyer_may_confirm_it(
        client, key_for, login_as, deal):
    """The card's "n facts to exit" agrees with the gate: a buyer-only fact typed by the rep is still missing."""
    from app.models import StageRequirement

    qualified = fresh(Deal, deal.id).stage
    requirement = next(r for r in qualified.requirements if r.when == "exit" and r.field.key == "decision_maker")
    StageRequirement.query.filter_by(id=requirement.id).update({"buyer": True})
    db.session.commit()
    label = requirement.field.label
    room, invited = _open_and_invite(client, key_for("rep"), deal)
    login_as("rep")

    def card():
        board = client.get(f"/deals/board/{deal.pipeline_id}").get_data(as_text=True)
        return board[board.index(f'id="card-{deal.id}"'):][:3000]
    assert "1 fact to exit" in card()  # typed by the rep, so not yet the buyer's word
    assert _confirm(client, token_of(invited["url"]), step_named(room, label)["id"]).status_code == 200
    assert "to exit" not in card()
