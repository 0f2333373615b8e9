"""Real `python worker.py` processes poll each IMAP inbox as a job of its own: a silent inbox delays only itself."""

import socket

from app.extensions import db
from app.models import InboundEmail, Mailbox
from app.sequences import imap
from tests import factories
from tests.sequences.conftest import IMAP_PASSWORD, IMAP_USER, deliver, start_pymap
from tests.worker.conftest import wait_for


def _mailbox(org, port) -> int:
    mailbox = Mailbox(org_id=org.id, host="127.0.0.1", port=port, security="none", username=IMAP_USER,
                      password_encrypted=imap.encrypt(IMAP_PASSWORD))
    db.session.add(mailbox)
    db.session.commit()
    return mailbox.id


def _read(fn):
    db.session.remove()  # a fresh read; never hold SQLite's lock while the workers write
    try:
        return fn()
    finally:
        db.session.remove()


def test_a_silent_inbox_does_not_hold_up_another_organisations_inbox(app, org, queue, start_worker):
    silent = socket.create_server(("127.0.0.1", 0))  # the handshake completes; the server never speaks
    pymap, port = start_pymap()
    try:
        quiet_org = factories.make_org(name="Quiet agency")
        silent_id = _mailbox(quiet_org, silent.getsockname()[1])  # first in line
        good_id = _mailbox(org, port)
        deliver(port, b"From: pat@prospect.example\r\nSubject: Hello\r\nMessage-ID: <w1@p.example>\r\n\r\nHi\r\n")
        env = {"SECRET_KEY": app.config["SECRET_KEY"], "ALLOW_INTERNAL_HOSTS": "1"}
        ticker = start_worker(STAGEGATE_TICK_SECONDS=3600, **env)  # ticks once on start
        start_worker(STAGEGATE_TICK_SECONDS=0, **env)  # a second worker takes the other inbox's job
        wait_for(lambda: _read(lambda: InboundEmail.query.filter_by(subject="Hello").count()) == 1, 30,
                 what=f"the good inbox to be read; worker log:\n{ticker.output()}")
        silent_polled = _read(lambda: db.session.get(Mailbox, silent_id).last_polled_at)
        assert silent_polled is None, "the silent inbox's poll should still be waiting for its timeout"
        wait_for(lambda: _read(lambda: db.session.get(Mailbox, silent_id).last_error) != "", 30,
                 what="the silent inbox's poll to give up")
        error = _read(lambda: db.session.get(Mailbox, silent_id).last_error)
        assert error.startswith("Could not reach the mail server 127.0.0.1:"), error
        assert _read(lambda: db.session.get(Mailbox, good_id).last_error) == ""
    finally:
        silent.close()
        pymap.terminate()
        pymap.wait(10)
