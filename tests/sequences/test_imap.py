"""Replies arrive by polling a real IMAP server (pymap, started by the test on loopback).

Bad messages are quarantined and the poll reads past them; inbox hosts may not reach inside
the network; every failure to connect reads the same; each inbox is polled on its own.
"""

import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import (
    Enrollment,
    InboundEmail,
    Mailbox,
    QuarantinedEmail,
    StepSend,
    Suppression,
    utcnow,
)
from app.sequences import imap, service
from app.sequences.sending import sweep_due
from tests import factories
from tests.conftest import free_port
from tests.factories import make_contact
from tests.sequences.conftest import IMAP_PASSWORD, IMAP_USER, deliver, dsn


def add_mailbox(org, port, host="127.0.0.1", **values) -> Mailbox:
    admin = factories.user(org, "admin")
    return imap.save_mailbox(admin, {"host": host, "port": port, "security": "none", "username": IMAP_USER,
                                     "password": IMAP_PASSWORD, **values})


def make_due(mailbox_id: int) -> None:
    db.session.get(Mailbox, mailbox_id).next_poll_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def sent_message(smtp, org, sequence, rep):
    smtp()
    contact = make_contact(org)
    enrollment = service.enroll(sequence, contact, rep)
    sweep_due()
    return contact, enrollment, StepSend.query.one().message_id


def reply(contact, message_id, tag="imap-reply") -> bytes:
    return (f"From: {contact.email}\r\nSubject: Re: Hello Pat\r\nMessage-ID: <{tag}@p.example>\r\n"
            f"In-Reply-To: {message_id}\r\n\r\nSounds good, call me.\r\n").encode()


def test_reply_in_the_reps_imap_inbox_stops_the_sequence(imap_server, smtp, org, sequence, rep):
    contact, enrollment, message_id = sent_message(smtp, org, sequence, rep)
    mailbox = add_mailbox(org, imap_server, user_id=rep.id)
    assert IMAP_PASSWORD not in mailbox.password_encrypted  # stored encrypted
    assert imap.decrypt(mailbox.password_encrypted) == IMAP_PASSWORD
    first = imap.sweep_mailboxes()  # the demo messages are read and match nothing
    assert first["polled"] == 1 and db.session.get(Mailbox, mailbox.id).last_error == ""
    deliver(imap_server, reply(contact, message_id))
    assert imap.sweep_mailboxes()["polled"] == 0  # not its turn yet: every 2 minutes
    db.session.get(Mailbox, mailbox.id).next_poll_at = db.session.get(Mailbox, mailbox.id).last_polled_at
    db.session.commit()
    assert imap.sweep_mailboxes()["read"] == 1  # only the new message, by UID
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    assert InboundEmail.query.filter_by(kind="reply").count() == 1


def test_wrong_imap_password_is_shown_and_retried_later(imap_server, org):
    mailbox = add_mailbox(org, imap_server, password="wrong")
    imap.sweep_mailboxes()
    row = db.session.get(Mailbox, mailbox.id)
    assert row.last_error == "The mail server refused the username or password."
    assert row.next_poll_at > row.last_polled_at


def test_messages_that_cannot_be_handled_are_quarantined_and_the_poll_reads_past_them(
        imap_server, smtp, org, sequence, rep):
    contact, enrollment, message_id = sent_message(smtp, org, sequence, rep)
    mailbox = add_mailbox(org, imap_server)
    imap.sweep_mailboxes()  # the demo messages
    long_address = "x" * 300 + "@prospect.example"
    uids = deliver(imap_server,
                   dsn("long", long_address, message_id),
                   dsn("nul", "pat\x00@prospect.example", message_id),
                   # The email package's header parser raised IndexError on this Message-ID.
                   b"From: someone@else.example\r\nMessage-ID: <\r\nSubject: broken id\r\n\r\nhello\r\n",
                   b"\x00\x01\x02 not an email at all\r\n",
                   reply(contact, message_id))
    make_due(mailbox.id)
    assert imap.sweep_mailboxes() == {"polled": 1, "read": 5}
    db.session.expire_all()
    row = db.session.get(Mailbox, mailbox.id)
    assert row.last_error == "" and row.last_uid == uids[-1]
    assert db.session.get(Enrollment, enrollment.id).status == "replied"  # the real reply after them
    held = QuarantinedEmail.query.filter_by(org_id=org.id, status="held").order_by(QuarantinedEmail.id).all()
    assert [q.source for q in held] == ["imap"] * 3 and {q.mailbox_id for q in held} == {mailbox.id}
    assert "recipient is 317 characters long (at most 254)" in held[0].reason
    assert "recipient holds a NUL or control character" in held[1].reason
    assert held[2].reason.startswith("It is not an email message")
    assert held[0].raw.startswith(b"From: MAILER-DAEMON") and held[0].subject == "Undelivered Mail Returned to Sender"
    assert Suppression.query.count() == 0  # neither bad address was stored
    assert InboundEmail.query.filter_by(subject="broken id").one().kind == "unmatched"
    counts = (InboundEmail.query.count(), QuarantinedEmail.query.count())
    make_due(mailbox.id)
    assert imap.sweep_mailboxes() == {"polled": 1, "read": 0}  # nothing is read twice
    assert (InboundEmail.query.count(), QuarantinedEmail.query.count()) == counts


def test_a_poll_commits_once_per_batch_not_once_per_message(imap_server, smtp, org, sequence, rep):
    contact, enrollment, message_id = sent_message(smtp, org, sequence, rep)
    mailbox = add_mailbox(org, imap_server)
    imap.sweep_mailboxes()  # the demo messages
    news = [f"From: news{i}@list.example\r\nSubject: Letter {i}\r\nMessage-ID: <n{i}@l.example>\r\n\r\nHi\r\n".encode()
            for i in range(99)]
    deliver(imap_server, *news, reply(contact, message_id))
    make_due(mailbox.id)
    commits, statements = [], []

    def on_commit(connection):
        commits.append(connection)

    def on_statement(connection, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "commit", on_commit)
    event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        assert imap.sweep_mailboxes()["read"] == 100
    finally:
        event.remove(db.engine, "commit", on_commit)
        event.remove(db.engine, "before_cursor_execute", on_statement)
    # One batch: a commit waits for the disk, so it is paid per batch, and so are the lookups.
    assert len(commits) <= 8, len(commits)
    assert len(statements) <= 45, len(statements)
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    assert InboundEmail.query.filter_by(kind="unmatched").count() >= 99


def test_a_message_too_large_to_read_is_quarantined_with_its_headers_and_the_poll_goes_on(
        imap_server, org, monkeypatch):
    from app.sequences import quarantine

    monkeypatch.setattr(imap, "MAX_INBOUND_BYTES", 4096)
    mailbox = add_mailbox(org, imap_server)
    imap.sweep_mailboxes()  # the demo messages
    head = b"From: big@x.example\r\nSubject: A large deck\r\nMessage-ID: <big@x.example>\r\n\r\n"
    uids = deliver(imap_server, head + b"A" * 8000,
                   b"From: small@x.example\r\nSubject: Small\r\nMessage-ID: <small@x.example>\r\n\r\nHi\r\n")
    make_due(mailbox.id)
    assert imap.sweep_mailboxes() == {"polled": 1, "read": 2}
    held = QuarantinedEmail.query.one()
    assert held.headers_only and held.raw == head and held.reason == quarantine.TOO_LARGE
    assert held.subject == "A large deck" and InboundEmail.query.filter_by(subject="Small").count() == 1
    assert db.session.get(Mailbox, mailbox.id).last_uid == uids[-1]


# ---------------------------------------------------------------- hosts inside the network


@pytest.fixture
def internal_hosts_refused(app):
    app.config["ALLOW_INTERNAL_HOSTS"] = False
    yield
    app.config["ALLOW_INTERNAL_HOSTS"] = True


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.7", "192.168.1.20", "169.254.169.254", "::1"])
def test_an_inbox_on_a_loopback_private_or_link_local_host_is_refused(client, login_as, internal_hosts_refused, host):
    login_as("admin")
    response = client.post("/sequences/settings", data={"form": "mailbox", "host": host, "port": "993",
                                                        "security": "ssl", "username": "rae@example.com",
                                                        "password": "pw", "folder": "INBOX"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "IMAP server is refused" in page and "local or private network address" in page
    assert Mailbox.query.count() == 0


def test_the_host_is_checked_again_right_before_each_connection(app, org):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    try:
        mailbox = add_mailbox(org, listener.getsockname()[1])  # saved while internal hosts were allowed
        app.config["ALLOW_INTERNAL_HOSTS"] = False
        try:
            imap.sweep_mailboxes()
        finally:
            app.config["ALLOW_INTERNAL_HOSTS"] = True
        assert "local or private network address" in db.session.get(Mailbox, mailbox.id).last_error
        with pytest.raises(TimeoutError):
            listener.accept()  # no connection was made
    finally:
        listener.close()


class _NotIMAP:
    """A TCP server that answers like an SSH server, not an IMAP one."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.clients = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.clients.append(conn)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    def close(self):
        self.server.close()
        for conn in self.clients:
            conn.close()


def test_closed_open_silent_tls_and_dns_failures_read_the_same_within_the_same_time(
        app, org, imap_server, monkeypatch):
    monkeypatch.setattr(imap, "TIMEOUT", 1)
    closed = free_port()
    talker = _NotIMAP()
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel completes the handshake; nobody ever speaks
    try:
        cases = {"closed": add_mailbox(org, closed), "not IMAP": add_mailbox(org, talker.port),
                 "silent": add_mailbox(org, silent.getsockname()[1]),
                 "TLS to a plain port": add_mailbox(org, imap_server, security="ssl"),
                 "no longer resolves": add_mailbox(org, imap_server)}
        gone = cases["no longer resolves"]
        gone.host = "mail.no-such-host.invalid"  # a name that resolved when it was saved
        db.session.commit()
        errors, seconds = {}, {}
        for name, mailbox in cases.items():
            started = time.monotonic()
            imap.poll(mailbox.id)
            seconds[name] = time.monotonic() - started
            row = db.session.get(Mailbox, mailbox.id)
            errors[name] = row.last_error.replace(f"{row.host}:{row.port}", "HOST")
    finally:
        talker.close()
        silent.close()
    assert set(errors.values()) == {"Could not reach the mail server HOST. Check the host, port and security."}, errors
    assert max(seconds.values()) < 1 + 4, seconds  # the one short timeout, whatever the failure


# ---------------------------------------------------------------- each inbox on its own


def test_two_ticks_claim_an_inbox_once_until_its_lease_runs_out(org):
    mailbox = Mailbox(org_id=org.id, host="127.0.0.1", port=1, username="u", password_encrypted="x",
                      next_poll_at=utcnow() - timedelta(seconds=1))
    db.session.add(mailbox)
    db.session.commit()
    now = utcnow()
    assert imap.claim_due(now) == [mailbox.id]
    db.session.commit()
    assert imap.claim_due(now) == []  # the second tick finds it claimed
    db.session.commit()
    assert imap.claim_due(now + imap.LEASE + timedelta(seconds=1)) == [mailbox.id]  # its job was lost


@pytest.fixture
def empty_queue(app):
    from app.queue import get_queue

    get_queue().empty()
    yield get_queue()
    get_queue().empty()


def test_the_tick_queues_one_poll_per_inbox_and_a_silent_inbox_delays_no_one(
        app, imap_server, smtp, org, sequence, rep, empty_queue, monkeypatch):
    from app.queue import ThreadWorker

    monkeypatch.setattr(imap, "TIMEOUT", 3)
    contact, enrollment, message_id = sent_message(smtp, org, sequence, rep)
    silent = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
    try:
        others = [factories.make_org(name=f"Agency {i}") for i in range(3)]
        for other, listener in zip(others, silent, strict=True):
            add_mailbox(other, listener.getsockname()[1])
        good = add_mailbox(org, imap_server)
        deliver(imap_server, reply(contact, message_id))
        tick = empty_queue.enqueue("app.jobs.run_due")
        ThreadWorker([empty_queue], connection=empty_queue.connection).work(burst=True, logging_level="WARNING")
        tick.refresh()
    finally:
        for listener in silent:
            listener.close()
    assert tick.return_value()["reply_mailboxes"] == {"queued": 4}
    # The tick no longer waits for any inbox (it waited for each silent one's timeout in turn).
    assert (tick.ended_at - tick.started_at).total_seconds() < imap.TIMEOUT
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    assert db.session.get(Mailbox, good.id).last_error == ""
    silent_errors = {m.last_error.startswith("Could not reach the mail server 127.0.0.1:")
                     for m in Mailbox.query.filter(Mailbox.id != good.id)}
    assert silent_errors == {True}


def test_run_due_polls_each_inbox_itself_within_the_short_timeout(
        app, imap_server, smtp, org, sequence, rep, monkeypatch):
    monkeypatch.setattr(imap, "TIMEOUT", 2)
    contact, enrollment, message_id = sent_message(smtp, org, sequence, rep)
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        add_mailbox(factories.make_org(name="Quiet agency"), silent.getsockname()[1])
        add_mailbox(org, imap_server)
        deliver(imap_server, reply(contact, message_id))
        started = time.monotonic()
        result = app.test_cli_runner().invoke(args=["run-due"])
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result.exit_code == 0, result.output
    assert "reply_mailboxes: 2 polled" in result.output
    assert elapsed < 2 + 8, elapsed
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
