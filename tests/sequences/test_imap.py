"""Replies arrive by polling a real IMAP server (pymap, started by the test on loopback)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from app.extensions import db
from app.models import Enrollment, InboundEmail, Mailbox, StepSend
from app.sequences import imap, service
from app.sequences.sending import sweep_due
from tests import factories
from tests.conftest import free_port
from tests.factories import make_contact


@pytest.fixture
def imap_server():
    port = free_port()
    pymap = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
                                "--demo-data", "--demo-user", "rae", "--demo-password", "s3cret-imap"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            IMAPClient("127.0.0.1", port=port, ssl=False, timeout=2).logout()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("pymap did not start")
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(10)


def deliver(port, raw: bytes):
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    client.login("rae", "s3cret-imap")
    client.append("INBOX", raw)
    client.logout()


def test_reply_in_the_reps_imap_inbox_stops_the_sequence(imap_server, smtp, org, sequence, rep):
    smtp()
    contact = make_contact(org)
    enrollment = service.enroll(sequence, contact, rep)
    sweep_due()
    message_id = StepSend.query.one().message_id
    admin = factories.user(org, "admin")
    mailbox = imap.save_mailbox(admin, {"user_id": rep.id, "host": "127.0.0.1", "port": imap_server,
                                        "security": "none", "username": "rae", "password": "s3cret-imap"})
    assert "s3cret-imap" not in mailbox.password_encrypted  # stored encrypted
    assert imap.decrypt(mailbox.password_encrypted) == "s3cret-imap"
    first = imap.sweep_mailboxes()  # the demo messages are read and match nothing
    assert first["polled"] == 1 and db.session.get(Mailbox, mailbox.id).last_error == ""
    deliver(imap_server, (f"From: {contact.email}\r\nSubject: Re: Hello Pat\r\nMessage-ID: <imap-reply@p.example>\r\n"
                          f"In-Reply-To: {message_id}\r\n\r\nSounds good, call me.\r\n").encode())
    assert imap.sweep_mailboxes()["polled"] == 0  # not its turn yet: every 2 minutes
    db.session.get(Mailbox, mailbox.id).next_poll_at = db.session.get(Mailbox, mailbox.id).last_polled_at
    db.session.commit()
    assert imap.sweep_mailboxes()["read"] == 1  # only the new message, by UID
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    assert InboundEmail.query.filter_by(kind="reply").count() == 1


def test_wrong_imap_password_is_shown_and_retried_later(imap_server, org):
    admin = factories.user(org, "admin")
    mailbox = imap.save_mailbox(admin, {"host": "127.0.0.1", "port": imap_server, "security": "none",
                                        "username": "rae", "password": "wrong"})
    imap.sweep_mailboxes()
    row = db.session.get(Mailbox, mailbox.id)
    assert row.last_error and row.next_poll_at > row.last_polled_at
