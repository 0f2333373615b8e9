"""The bytes a relay receives: CRLF line ends only, and a List-Unsubscribe it can read without decoding."""

import re

from app.extensions import db
from app.models import Contact, Enrollment, Suppression
from app.sequences import service
from tests.factories import make_contact
from tests.sequences.test_sending import sweep

PLAIN_HEADER = re.compile(rb"<(https?://[!-~]+/u/([0-9A-Za-z_-]+))>, <mailto:([!-~]+)\?subject=unsubscribe%20([0-9A-Za-z_-]+)>")


def _raw_for(inbox, address) -> bytes:
    [raw] = [content for _, rcpts, content in inbox.raw if address in rcpts]
    return raw


def _header_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The header's physical lines as received: its first line and the folded continuation lines."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.lower().startswith(name.lower() + b":"))
    lines = [head[start]]
    for line in head[start + 1:]:
        if line[:1] not in (b" ", b"\t"):
            break
        lines.append(line)
    return lines


def _send_one(app, smtp, org, sequence, rep, base_url, name="Pat Prospect", body=None):
    app.config["BASE_URL"] = base_url
    inbox = smtp()
    if body:
        sequence.steps[0].body = body
        db.session.commit()
    contact = make_contact(org, "pat@prospect.example", name)
    service.enroll(sequence, contact, rep)
    assert sweep()["sent"] == 1
    return inbox, contact


def test_every_line_on_the_wire_ends_in_crlf_and_the_body_is_seven_bit(app, smtp, org, sequence, rep):
    previous = app.config["BASE_URL"]
    try:
        inbox, contact = _send_one(app, smtp, org, sequence, rep, "https://crm.example.com", name="José Müller",
                                   body="Grüße aus Köln, {{first_name}}.\n\nÀ bientôt,\n{{owner_name}}")
    finally:
        app.config["BASE_URL"] = previous
    raw = _raw_for(inbox, contact.email)
    assert raw.count(b"\n") == raw.count(b"\r\n") and raw.count(b"\r") == raw.count(b"\r\n")  # no bare LF or CR
    assert raw.isascii()  # nothing 8-bit for a relay that never offered 8BITMIME
    message = inbox.to(contact.email)[0]
    assert message["To"].addresses[0].display_name == "José Müller"
    assert "Grüße aus Köln, José." in message.get_body().get_content()


def _list_unsubscribe_on_the_wire(app, smtp, org, sequence, rep, base_url):
    previous = app.config["BASE_URL"]
    try:
        inbox, contact = _send_one(app, smtp, org, sequence, rep, base_url)
    finally:
        app.config["BASE_URL"] = previous
    raw = _raw_for(inbox, contact.email)
    lines = _header_lines(raw, b"List-Unsubscribe")
    assert b"=?" not in b"".join(lines)  # no RFC 2047 encoded-word
    value = b" ".join(line.strip() for line in lines)[len(b"List-Unsubscribe:"):].strip()
    found = PLAIN_HEADER.fullmatch(value)
    assert found, value
    assert _header_lines(raw, b"List-Unsubscribe-Post") == [b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    return raw, lines, found.groups()


def test_list_unsubscribe_is_plain_ascii_folded_at_the_comma_in_the_raw_bytes(app, smtp, org, sequence, rep):
    raw, lines, (link, token, mailbox, mail_token) = _list_unsubscribe_on_the_wire(
        app, smtp, org, sequence, rep, "https://crm.acme.example")
    assert len(lines) == 2 and lines[0].endswith(b">,") and lines[1].startswith(b" <mailto:")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))  # every header line
    assert link.startswith(b"https://crm.acme.example/u/") and token == mail_token and len(token) <= 17
    assert mailbox == b"unsubscribe@crm.acme.example"


def test_a_long_host_still_gets_one_plain_uri_per_line(app, smtp, org, sequence, rep):
    _, lines, (link, _, _, _) = _list_unsubscribe_on_the_wire(
        app, smtp, org, sequence, rep, "https://crm.northwind-insurance-agency.example")
    # Past 78 characters RFC 5322 allows the line (up to 998); it must never become an encoded-word.
    assert len(lines) == 2 and all(len(line) <= 998 for line in lines)
    assert lines[0] == b"List-Unsubscribe: <" + link + b">,"


def test_rfc_8058_one_click_post_to_the_link_in_the_raw_header_unsubscribes(app, client, smtp, org, sequence, rep):
    inbox, contact = _send_one(app, smtp, org, sequence, rep, app.config["BASE_URL"])
    value = b" ".join(x.strip() for x in _header_lines(_raw_for(inbox, contact.email), b"List-Unsubscribe"))
    link = PLAIN_HEADER.search(value).group(1).decode()
    path = link[len(app.config["BASE_URL"]):]
    # What a mail provider sends (RFC 8058 section 3.2): no cookies, no CSRF token.
    response = client.post(path, data="List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    db.session.expire_all()
    assert Suppression.query.filter_by(email=contact.email, reason="unsubscribed").count() == 1
    assert db.session.get(Contact, contact.id).unsubscribed is True
    assert Enrollment.query.one().status == "unsubscribed"


def test_the_mailto_in_the_header_unsubscribes_by_email(app, client, smtp, org, sequence, rep, key_for):
    inbox, contact = _send_one(app, smtp, org, sequence, rep, app.config["BASE_URL"])
    value = b" ".join(x.strip() for x in _header_lines(_raw_for(inbox, contact.email), b"List-Unsubscribe"))
    _, _, mailbox, token = (g.decode() for g in PLAIN_HEADER.search(value).groups())
    raw = (f"From: {contact.email}\r\nTo: {mailbox}\r\nSubject: unsubscribe {token}\r\n"
           f"Message-ID: <uns-short@p>\r\n\r\n").encode()
    response = client.post("/api/v1/inbound-email", data=raw,
                           headers={**key_for("admin"), "Content-Type": "message/rfc822"})
    assert response.json["kind"] == "unsubscribe"
    db.session.expire_all()
    assert Enrollment.query.one().status == "unsubscribed"


def test_a_forged_short_token_is_a_404_and_changes_nothing(app, client, smtp, org, sequence, rep):
    inbox, contact = _send_one(app, smtp, org, sequence, rep, app.config["BASE_URL"])
    value = b" ".join(x.strip() for x in _header_lines(_raw_for(inbox, contact.email), b"List-Unsubscribe"))
    token = PLAIN_HEADER.search(value).group(2).decode()
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.post(f"/u/{forged}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert client.post("/u/zzzzzz" + "A" * 11).status_code == 404  # an id past 2**31
    assert Suppression.query.count() == 0
