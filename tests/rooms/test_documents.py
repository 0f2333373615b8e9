"""Documents in the deal room, end to end over HTTP: the rep shares a proposal mapped to "Proposal sent and
acknowledged"; the buyer opens it from their link (the opening is recorded) and acknowledges it by name,
which writes the fact as the buyer's; a new version takes that back and asks again."""

import io

from flask import current_app

from app.models import Deal, DocumentEvent, DocumentVersion, Notification, RoomStep
from tests.documents.test_sharing import PDF
from tests.rooms.conftest import csrf_from, fresh, row_counts, token_of

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"


def _room_with_proposal(client, key_for, login_as, deal, ask="acknowledge"):
    """The rep's part (signed in, CSRF as the rep-side tests take it), then the buyer's link with CSRF on."""
    current_app.config["WTF_CSRF_ENABLED"] = False
    rep = key_for("rep")
    assert client.post(f"/api/v1/deals/{deal.id}/room", headers=rep).status_code == 201
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=rep,
                          json={"contact_email": "dana@buyer.example"}).json
    login_as("rep")
    shared = client.post(f"/deals/{deal.id}/documents", content_type="multipart/form-data", follow_redirects=True,
                         data={"file": (io.BytesIO(PDF), "proposal.pdf"), "title": "Proposal", "ask": ask,
                               "requirement": "proposal_acknowledged"})
    assert "Shared “Proposal”" in shared.get_data(as_text=True)
    client.post("/auth/logout")
    current_app.config["WTF_CSRF_ENABLED"] = True
    return token_of(invited["url"]), DocumentVersion.query.one()


def _acknowledge(client, token, version, name="Dana Ortiz"):
    page = client.get(f"/r/{token}").get_data(as_text=True)
    return client.post(f"/r/{token}/documents/{version.document_id}/confirm", headers={"User-Agent": UA},
                       environ_base={"REMOTE_ADDR": "198.51.100.4"},
                       data={"name": name, "version_id": version.id, "csrf_token": csrf_from(page)})


def test_the_buyer_opens_and_acknowledges_a_proposal_and_the_fact_is_theirs(client, key_for, login_as, deal,
                                                                             csrf_on):
    token, version = _room_with_proposal(client, key_for, login_as, deal)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Proposal" in page and "version 1 · PDF, 1 KB" in page and "Type your name to acknowledge" in page
    # the plan's step for the same fact points at the document instead of asking for a name a second time
    assert f'<a href="#document-{version.document_id}">Open and acknowledge the document below</a>' in page
    opened = client.get(f"/r/{token}/documents/{version.document_id}")
    assert opened.status_code == 200 and opened.data == PDF
    assert opened.headers["Content-Disposition"] == 'attachment; filename="proposal.pdf"'
    assert DocumentEvent.query.filter_by(kind="view", email="dana@buyer.example").count() == 1

    done = _acknowledge(client, token, version)
    assert done.status_code == 200 and "Thank you, Dana Ortiz: “Proposal” is acknowledged." in done.get_data(as_text=True)
    event = DocumentEvent.query.filter_by(kind="acknowledge").one()
    assert (event.ip, event.user_agent, event.sha256) == ("198.51.100.4", UA, version.sha256)
    stored = fresh(Deal, deal.id)
    assert stored.facts["proposal_acknowledged"] is True
    assert stored.facts_meta["proposal_acknowledged"]["source"] == "buyer"
    assert stored.facts_meta["proposal_acknowledged"]["by"] == "dana@buyer.example"
    assert stored.stage_id == deal.stage_id  # a confirmation never moves the deal
    assert Notification.query.filter_by(user_id=deal.owner_id, kind="room").one().text == \
        "Proposal acknowledged by Dana Ortiz"
    room_page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "✓ Acknowledged by Dana Ortiz" in room_page
    step = RoomStep.query.filter_by(requirement="proposal_acknowledged").one()  # the plan's step is done too
    assert (step.status, step.confirmed_name, step.confirmed_by) == ("done", "Dana Ortiz", "dana@buyer.example")
    assert step.confirmed_at == event.at and step.confirmed_ip == "198.51.100.4"
    again = _acknowledge(client, token, version)
    assert again.status_code == 422 and "is already acknowledged" in again.get_data(as_text=True)


def test_a_new_version_takes_the_confirmation_back_and_asks_again(client, key_for, login_as, deal, csrf_on):
    token, first = _room_with_proposal(client, key_for, login_as, deal)
    assert _acknowledge(client, token, first).status_code == 200
    current_app.config["WTF_CSRF_ENABLED"] = False
    login_as("rep")
    client.post(f"/deals/{deal.id}/documents/{first.document_id}/versions", content_type="multipart/form-data",
                data={"file": (io.BytesIO(PDF + b"% v2"), "proposal-v2.pdf")})
    client.post("/auth/logout")
    current_app.config["WTF_CSRF_ENABLED"] = True
    stored = fresh(Deal, deal.id)
    assert "proposal_acknowledged" not in stored.facts and "proposal_acknowledged" not in stored.facts_meta
    room = client.get(f"/r/{token}").get_data(as_text=True)
    assert "version 2" in room and "Type your name to acknowledge you received version 2" in room
    stale = _acknowledge(client, token, first)  # a tab left open on version 1
    assert stale.status_code == 422 and "is not the latest version" in stale.get_data(as_text=True)
    second = DocumentVersion.query.filter_by(number=2).one()
    assert _acknowledge(client, token, second).status_code == 200
    assert fresh(Deal, deal.id).facts_meta["proposal_acknowledged"]["source"] == "buyer"


def test_accepting_terms_takes_a_full_name(client, key_for, login_as, deal, csrf_on):
    token, version = _room_with_proposal(client, key_for, login_as, deal, ask="accept")
    one_word = _acknowledge(client, token, version, name="Dana")
    assert one_word.status_code == 422 and "must be your full name" in one_word.get_data(as_text=True)
    assert DocumentEvent.query.filter(DocumentEvent.kind != "view").count() == 0
    assert _acknowledge(client, token, version).status_code == 200


def test_other_documents_and_dead_links_are_calm_404s_that_write_nothing(client, key_for, login_as, deal, org,
                                                                         csrf_on):
    from tests import factories

    token, version = _room_with_proposal(client, key_for, login_as, deal)
    other_deal = factories.make_deal(org, title="Someone else's deal")
    current_app.config["WTF_CSRF_ENABLED"] = False
    login_as("rep")
    client.post(f"/deals/{other_deal.id}/documents", content_type="multipart/form-data",
                data={"file": (io.BytesIO(PDF + b"% other"), "other.pdf"), "title": "Other"})
    client.post("/auth/logout")
    current_app.config["WTF_CSRF_ENABLED"] = True
    other = DocumentVersion.query.filter_by(filename="other.pdf").one()
    before = row_counts()
    assert client.get(f"/r/{token}/documents/{other.document_id}").status_code == 404  # not this room's deal
    assert client.get(f"/r/{token}/documents/2147483648").status_code == 404
    assert client.get(f"/r/{token[:-2]}xx/documents/{version.document_id}").status_code == 404
    page = client.get(f"/r/{token}").get_data(as_text=True)
    foreign = client.post(f"/r/{token}/documents/{other.document_id}/confirm",
                          data={"name": "Dana Ortiz", "version_id": other.id, "csrf_token": csrf_from(page)})
    assert foreign.status_code == 404
    no_csrf = client.post(f"/r/{token}/documents/{version.document_id}/confirm",
                          data={"name": "Dana Ortiz", "version_id": version.id})
    assert no_csrf.status_code == 400 and "nothing was done" in no_csrf.get_data(as_text=True)
    broken = client.post(f"/r/{token}/documents/{version.document_id}/confirm",
                         data=b"name=Dana%ED%A0%80&version_id=" + str(version.id).encode(),
                         content_type="application/x-www-form-urlencoded")
    assert broken.status_code == 400
    assert row_counts() == before
