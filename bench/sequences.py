"""Bench: sequence sending and reply matching.

(a) 1,000 email steps sent by one worker's sweep to a local aiosmtpd server: messages/s.
    Baseline in the same run: the same 1,000 messages (the same bytes, made before the clock
    starts) sent with bare smtplib over one connection (no database), so the ratio is the cost
    of building each message and of the at-most-once
    bookkeeping (a batch's claims and cap slots committed, send, the relay's answers and
    timeline entries recorded) per message.
(b) Reply matching over a mailbox of 3,000 inbound messages (a tenth of them replies to the
    sent messages by In-Reply-To, a tenth by sender only, the rest unmatched), handed over in
    batches as the IMAP poll does (200 messages, 25 MB at most): ms a message (target <= 2 ms). Baseline in the same
    run: parsing the same messages with the email package alone. Then, when pymap is installed
    (requirements-dev), the same mailbox read through a real IMAP poll of a local pymap server,
    with pymap's own fetch time beside it (reading the mailbox with a bare IMAP client).

Database: DATABASE_URL (PostgreSQL, name containing "bench") or the SQLite file under bench/out/.
BENCH_SEQ_SENDS and BENCH_SEQ_MAILBOX change the counts. It creates its own organisation and
leaves the rows behind (the main bench drops every table before it seeds).
    .venv/bin/python -m bench.sequences
"""

import os
import smtplib
import sys
import threading
import time
from email import policy
from email.parser import BytesParser

SENDS = int(os.environ.get("BENCH_SEQ_SENDS", "1000"))
MAILBOX = int(os.environ.get("BENCH_SEQ_MAILBOX", "3000"))


class _Counter:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def _smtp_server():
    from aiosmtpd.controller import Controller

    from bench.board import _free_port

    port = _free_port()
    handler = _Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler, port


def _seed(app, tag):
    from app.auth.service import create_organization, create_user
    from app.extensions import db
    from app.models import Contact, OutreachSettings
    from app.sequences.service import enroll, save_sequence

    org = create_organization(f"Seq bench {tag}", f"admin-{tag}@bench.example.com", "bench-password-1",
                              templates=["article"])
    manager = create_user(org, f"mgr-{tag}@bench.example.com", "Morgan Bench", "manager", "bench-password-1")
    rep = create_user(org, f"rep-{tag}@bench.example.com", "Riley Bench", "rep", "bench-password-1")
    sequence = save_sequence(manager, {
        "name": "Bench", "send_days": "1234567", "send_start_hour": 0, "send_end_hour": 24,
        "daily_cap": 1000, "spacing_minutes": 0,
        "steps": [{"type": "email", "wait_days": 0, "subject": "Hi {{first_name}}",
                   "body": "Hello {{first_name}} at {{company}}, a word from {{owner_name}}."},
                  {"type": "email", "wait_days": 3, "subject": "Following up", "body": "Any thoughts?"}]})
    db.session.add_all([Contact(org_id=org.id, email=f"p{i}-{tag}@prospect.example", name=f"Pat {i}")
                        for i in range(SENDS)])
    # What real sending needs besides the relay (else every email is held): an https public
    # address for the unsubscribe links and the postal address in the footer.
    db.session.add(OutreachSettings(org_id=org.id, postal_address="1 Bench Street, Leith",
                                    public_url="https://crm.bench.example"))
    db.session.commit()
    for contact in Contact.query.filter_by(org_id=org.id).order_by(Contact.id):
        enroll(sequence, contact, rep, commit=False)
    db.session.commit()
    return org, sequence


def _baseline_send(port, messages) -> float:
    """Bare smtplib over one connection, the messages' bytes made beforehand: only the SMTP conversation is timed."""
    from app.sequences.mailer import wire_bytes

    ready = [(sender, recipient, wire_bytes(message)) for sender, recipient, message in messages]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for sender, recipient, data in ready:
            conn.sendmail(sender, [recipient], data)
    return time.perf_counter() - started


def _mailbox(org, tag):
    from app.models import StepSend

    sent = StepSend.query.filter_by(org_id=org.id, status="sent").order_by(StepSend.id).all()
    raws = []
    for i in range(MAILBOX):
        if i % 10 == 0 and sent:
            s = sent[(i // 10) % len(sent)]
            raws.append(f"From: {s.to_email}\r\nSubject: Re: hi\r\nMessage-ID: <r{i}-{tag}@p.example>\r\n"
                        f"In-Reply-To: {s.message_id}\r\n\r\nSounds good.\r\n".encode())
        elif i % 10 == 1 and sent:
            s = sent[(i // 10 + 7) % len(sent)]
            raws.append(f"From: {s.to_email}\r\nSubject: hello\r\nMessage-ID: <s{i}-{tag}@p.example>\r\n\r\n"
                        "Call me.\r\n".encode())
        else:
            raws.append(f"From: news{i}@list.example\r\nSubject: Newsletter {i}\r\nMessage-ID: <n{i}-{tag}@l>\r\n"
                        f"\r\n{'Lorem ipsum dolor sit amet. ' * 20}\r\n".encode())
    return raws


def _reply_matching(org, tag) -> dict:
    """(b): the mailbox through receive() in the IMAP poll's batches, against parsing alone."""
    from app.sequences.imap import FETCH_BATCH
    from app.sequences.quarantine import receive

    raws = _mailbox(org, tag)
    parser = BytesParser(policy=policy.default)
    started = time.perf_counter()
    for raw in raws:
        parser.parsebytes(raw)
    parse_only = time.perf_counter() - started
    kinds: dict = {}
    org_id = org.id  # read once: the organisation row expires at each commit
    started = time.perf_counter()
    for start in range(0, len(raws), FETCH_BATCH):
        for result in receive(org_id, raws[start:start + FETCH_BATCH], source="imap"):
            kinds[result["kind"]] = kinds.get(result["kind"], 0) + 1
    matching = time.perf_counter() - started
    per_message = 1000 * matching / len(raws)
    print(f"(b) reply matching over {len(raws):,} messages: {matching:.2f} s = {per_message:.2f} ms a message "
          f"(target <= 2 ms; {kinds}); parse-only baseline {1000 * parse_only / len(raws):.3f} ms a message; "
          f"ratio {matching / parse_only:.0f}x", flush=True)
    figures = {"match_ms": per_message, "parse_ms": 1000 * parse_only / len(raws)}
    figures.update(_imap_poll(org, tag))
    return figures


def _imap_poll(org, tag) -> dict:
    """(b) through a real IMAP poll of a local pymap server holding the same kind of mailbox."""
    import socket
    from pathlib import Path

    from flask import current_app
    from imapclient import IMAPClient

    from app.extensions import db
    from app.models import Mailbox
    from app.sequences import imap
    from bench.board import start_process, stop_process

    pymap = Path(sys.executable).with_name("pymap")
    if not pymap.exists():
        print("(b) IMAP poll: skipped (pymap is not installed: pip install -r requirements-dev.txt)", flush=True)
        return {}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_process([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
                            "--demo-user", "bench", "--demo-password", "bench-imap"], {}, "pymap.log")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("pymap did not start") from None
                time.sleep(0.2)
        client.login("bench", "bench-imap")
        raws = _mailbox(org, f"{tag}-imap")
        for raw in raws:
            client.append("INBOX", raw)
        client.select_folder("INBOX", readonly=True)
        started = time.perf_counter()
        uids = client.search(["ALL"])
        for start in range(0, len(uids), imap.FETCH_BATCH):
            client.fetch(uids[start:start + imap.FETCH_BATCH], ["RFC822.SIZE"])
            client.fetch(uids[start:start + imap.FETCH_BATCH], ["BODY.PEEK[]"])
        fetch_only = time.perf_counter() - started
        client.logout()
        mailbox = Mailbox(org_id=org.id, host="127.0.0.1", port=port, security="none", username="bench",
                          password_encrypted=imap.encrypt("bench-imap"))
        db.session.add(mailbox)
        db.session.commit()
        internal = current_app.config.get("ALLOW_INTERNAL_HOSTS")
        current_app.config["ALLOW_INTERNAL_HOSTS"] = True  # the bench's pymap listens on loopback
        try:
            started = time.perf_counter()
            result = imap.poll(mailbox.id)
            polled = time.perf_counter() - started
        finally:
            current_app.config["ALLOW_INTERNAL_HOSTS"] = internal
        error = db.session.get(Mailbox, mailbox.id).last_error
        assert result["read"] == len(raws), (result, error)
    finally:
        stop_process(server)
    print(f"(b) IMAP poll of a {len(raws):,}-message pymap inbox: {polled:.2f} s = "
          f"{1000 * polled / len(raws):.2f} ms a message; pymap's own fetch of the same (bare IMAPClient) "
          f"{1000 * fetch_only / len(raws):.2f} ms a message; the poll's cost beyond the fetch "
          f"{1000 * (polled - fetch_only) / len(raws):.2f} ms a message", flush=True)
    return {"poll_ms": 1000 * polled / len(raws), "fetch_ms": 1000 * fetch_only / len(raws)}


def main() -> dict:
    from app import create_app
    from bench.seed import bench_config, database_url, describe

    url = database_url()
    app = create_app(bench_config(url))  # first: it imports the areas in an order without a circle
    from app.extensions import db
    from app.sequences.sending import build_message, send_token, sweep_due

    controller, handler, port = _smtp_server()
    figures = {}
    try:
        with app.app_context():
            db.create_all()
            if db.engine.dialect.name == "sqlite":
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            tag = f"{int(time.time())}-{os.getpid()}"
            print(f"sequences bench on {describe(url)}: {SENDS:,} sends, a {MAILBOX:,}-message mailbox", flush=True)
            org, sequence = _seed(app, tag)
            app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
            from app.models import Enrollment

            sample = [(e.owner.email, e.contact.email,
                       build_message(e, sequence.steps[0], f"<b{e.id}@bench>", [], send_token(e.id)))
                      for e in Enrollment.query.filter_by(org_id=org.id).order_by(Enrollment.id)]
            db.session.rollback()
            first = _baseline_send(port, sample)
            before = handler.count
            started = time.perf_counter()
            result = sweep_due()
            elapsed = time.perf_counter() - started
            delivered = handler.count - before
            assert result.get("sent") == SENDS and delivered == SENDS, (result, delivered)
            # The baseline runs on each side of the sweep and the faster counts: a neighbour's
            # burst during one of them does not flatter the ratio.
            second = _baseline_send(port, sample)
            baseline = min(first, second)
            figures["send_rate"] = SENDS / elapsed
            figures["send_baseline_rate"] = SENDS / baseline
            print(f"(a) {SENDS:,} sends by one sweep: {elapsed:.2f} s = {figures['send_rate']:,.0f} messages/s; "
                  f"bare smtplib baseline {figures['send_baseline_rate']:,.0f} messages/s (the faster of "
                  f"{SENDS / first:,.0f} before and {SENDS / second:,.0f} after); "
                  f"{100 * figures['send_rate'] / figures['send_baseline_rate']:.0f} % of the baseline", flush=True)

            figures.update(_reply_matching(org, tag))
    finally:
        controller.stop()
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
