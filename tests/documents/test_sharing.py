"""Deal-room documents, the rep's side over HTTP: share a PDF (checked by content, size-limited, kept with
its SHA-256), replace it with a version the buyer must confirm again, download exactly those bytes; and the
buyer's confirmation as the room records it (latest version only, a full name to accept)."""

import hashlib
import io
import re

import pytest

from app.documents.service import MAX_BYTES, Evidence, confirm, record_view
from app.errors import Invalid
from app.extensions import db
from app.models import DealDocument, DocumentEvent, DocumentVersion
from tests import factories
from tests.factories import make_contact

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _pdf(extra: bytes = b"") -> bytes:
    return PDF + extra


def _share(client, deal, content=PDF, name="proposal.pdf", **form):
    data = {"file": (io.BytesIO(content), name), "title": "Proposal", "ask": "acknowledge",
            "requirement": "proposal_acknowledged", **form}
    return client.post(f"/deals/{deal.id}/documents", data=data, content_type="multipart/form-data",
                       follow_redirects=True)


def test_a_rep_shares_a_pdf_and_sees_it_waiting_for_the_buyer(client, org, login_as):
    deal = factories.make_deal(org)
    login_as("rep")
    page = _share(client, deal).get_data(as_text=True)
    assert "Shared “Proposal” (version 1, 1 KB)" in page
    version = DocumentVersion.query.one()
    assert version.sha256 == hashlib.sha256(PDF).hexdigest() and version.size == len(PDF)
    assert "Waiting for the buyer to acknowledge version 1" in page and version.sha256[:16] in page
    assert "Proposal sent and acknowledged" in page  # the fact a confirmation meets, offered by its label
    download = client.get(f"/deals/{deal.id}/documents/{version.document_id}/versions/1")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"] == 'attachment; filename="proposal.pdf"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize("content, name, words", [
    (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "proposal.pdf", "is not a PDF"),  # the name says PDF, the bytes do not
    (b"<html><script>alert(1)</script>", "x.pdf", "is not a PDF"),
    (PDF + b"0" * MAX_BYTES, "big.pdf", "is larger than 10 MB"),
    (b"", "empty.pdf", "is not a PDF"),
])
def test_what_is_not_a_pdf_or_too_large_is_refused_and_nothing_is_kept(client, org, login_as, content, name, words):
    deal = factories.make_deal(org)
    login_as("rep")
    page = _share(client, deal, content, name).get_data(as_text=True)
    assert "The document was not shared." in page and words in page
    assert DealDocument.query.count() == 0 and DocumentVersion.query.count() == 0


@pytest.mark.parametrize("form, words", [
    ({"title": "x" * 201}, "“title”"),
    ({"ask": "sign"}, "“ask” must be one of: acknowledge, accept"),
    ({"requirement": "secret_field"}, "“requirement” is not a fact of this deal"),
])
def test_odd_form_values_get_a_clear_refusal(client, org, login_as, form, words):
    deal = factories.make_deal(org)
    login_as("rep")
    page = _share(client, deal, **form).get_data(as_text=True)
    assert words in page and DealDocument.query.count() == 0


@pytest.mark.parametrize("title", [b"Pro\xed\xa0\x80posal", b"Pro\xffposal", b"Pro\x00posal"])
def test_a_title_that_is_not_text_is_refused(client, org, login_as, title):
    """Bytes no browser sends as text (a lone surrogate in UTF-8, an invalid byte, NUL), by hand-made multipart."""
    deal = factories.make_deal(org)
    login_as("rep")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/deals/{deal.id}").get_data(as_text=True))
    boundary = b"----stagegate"
    parts = [(b'name="title"', title), (b'name="ask"', b"acknowledge"),
             (b'name="csrf_token"', token.group(1).encode() if token else b""),
             (b'name="file"; filename="p.pdf"\r\nContent-Type: application/pdf', PDF)]
    body = b"".join(b"--" + boundary + b"\r\nContent-Disposition: form-data; " + head + b"\r\n\r\n" + value + b"\r\n"
                    for head, value in parts) + b"--" + boundary + b"--\r\n"
    response = client.post(f"/deals/{deal.id}/documents", data=body, follow_redirects=True,
                           content_type="multipart/form-data; boundary=" + boundary.decode())
    assert response.status_code == 200 and "The document was not shared." in response.get_data(as_text=True)
    assert DealDocument.query.count() == 0


def test_a_hostile_file_name_is_kept_as_plain_ascii(client, org, login_as):
    deal = factories.make_deal(org)
    login_as("rep")
    _share(client, deal, name="../../etc/Angebot für Dana.pdf")
    assert DocumentVersion.query.one().filename == "Angebot-fur-Dana.pdf"


def test_a_new_version_asks_again_and_the_old_confirmation_stays_on_record(client, org, login_as):
    deal = factories.make_deal(org)
    contact = make_contact(org, email="dana@buyer.example", name="Dana Ortiz")
    login_as("rep")
    _share(client, deal, ask="accept")
    document = DealDocument.query.one()
    first = document.latest
    with pytest.raises(Invalid) as refused:
        confirm(document, first.id, contact, "Dana", Evidence("203.0.113.9", "Phone"))
    assert refused.value.fields == {"name": "must be your full name (first and last), as a signature"}
    confirm(document, first.id, contact, "Dana Ortiz", Evidence("203.0.113.9", "Mozilla/5.0\x00 Phone"))
    db.session.commit()
    event = DocumentEvent.query.filter_by(kind="accept").one()
    assert (event.typed_name, event.email, event.ip, event.sha256) == ("Dana Ortiz", "dana@buyer.example",
                                                                      "203.0.113.9", first.sha256)
    assert event.user_agent == "Mozilla/5.0 Phone"  # no control characters kept
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert re.search(r"Accepted by Dana Ortiz &lt;dana@buyer.example&gt;", page)
    with pytest.raises(Invalid):  # once is enough
        confirm(document, first.id, contact, "Dana Ortiz", Evidence())
    page = client.post(f"/deals/{deal.id}/documents/{document.id}/versions",
                       data={"file": (io.BytesIO(_pdf(b"% v2")), "proposal-v2.pdf")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "Shared version 2 of “Proposal”: buyers are asked to accept it again." in page
    assert "Waiting for the buyer to accept version 2" in page and "accepted by Dana Ortiz" in page  # v1's, kept
    db.session.expire_all()
    with pytest.raises(Invalid) as stale:  # a tab left open on version 1
        confirm(document, first.id, contact, "Dana Ortiz", Evidence())
    assert "is not the latest version" in stale.value.fields["version"]
    record_view(document.latest, contact, Evidence())
    assert "Viewed 1 time, last by dana@buyer.example" in client.get(f"/deals/{deal.id}").get_data(as_text=True)


def test_documents_stay_inside_their_organisation_and_with_their_owner(client, org, login_as):
    deal = factories.make_deal(org)
    login_as("rep")
    _share(client, deal)
    document = DealDocument.query.one()
    other = factories.make_org(name="Elsewhere")
    other_deal = factories.make_deal(other)
    login_as("admin", who=factories.user(other, "admin"))
    assert client.get(f"/deals/{deal.id}/documents/{document.id}/versions/1").status_code == 404
    assert client.get(f"/deals/{other_deal.id}/documents/{document.id}/versions/1").status_code == 404
    assert client.get(f"/deals/{other_deal.id}/documents/{document.id}/versions/2147483648").status_code == 404
    assert _share(client, deal).status_code == 404  # another organisation's deal
    rep_two = factories.user(org, "rep")
    rep_two.role = "rep"
    db.session.commit()


def test_only_the_owner_or_a_manager_shares(client, org, login_as):
    from app.auth.service import create_user

    deal = factories.make_deal(org)
    other_rep = create_user(org, "second.rep@org.example.com", "Second Rep", "rep", factories.PASSWORD)
    login_as("rep", who=other_rep)
    page = _share(client, deal).get_data(as_text=True)
    assert "Only the deal&#39;s owner or a manager can share documents on it." in page \
        or "Only the deal's owner or a manager can share documents on it." in page
    assert DealDocument.query.count() == 0
    login_as("manager")
    assert "Shared “Proposal”" in _share(client, deal).get_data(as_text=True)
