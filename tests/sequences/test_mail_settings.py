"""Settings → Email sending: the relay, public address and footer, the test message, sending_config, the outbox."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from app import crypto
from app.auth.service import create_user
from app.extensions import db
from app.models import Enrollment, OutreachSettings, StepSend, utcnow
from app.sequences import service
from app.sequences.mail_settings import (
    INSTALLATION,
    ORGANISATION,
    GuardedSmtpMailer,
    HeldMailer,
    org_transport,
    sending_config,
)
from app.sequences.mailer import InstallationFailure, Outbox, SmtpMailer
from app.sequences.sending import sweep_due
from tests import factories
from tests.conftest import free_port
from tests.factories import make_contact
from tests.sequences import relay as relay_server
from tests.sequences.conftest import make_sequence
from tests.sequences.relay import QUEUED, Relay, login_checker, self_signed_context

relays = relay_server.relays  # the fixture: real aiosmtpd relays on loopback

READY = {"form": "sending", "relay_host": "127.0.0.1", "relay_port": "", "relay_security": "none",
         "relay_username": "", "relay_password": "", "public_url": "https://crm.example.com",
         "postal_address": "9 Harbour Rd, Leith", "unsubscribe_mailto": ""}


ORG_STARTS_BLANK = True  # these tests set the outreach settings themselves (see conftest._org_can_send)


@pytest.fixture
def defaults(app, monkeypatch):
    """The installation's defaults as most installations have them: no relay, BASE_URL on localhost."""
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    monkeypatch.setitem(app.config, "BASE_URL", "http://localhost:5000")
    monkeypatch.setitem(app.config, "UNSUBSCRIBE_MAILTO", "")
    return app.config


def save(client, **fields):
    return client.post("/sequences/settings", data={**READY, **fields})


def page_of(response) -> str:
    return response.get_data(as_text=True)


def row(org) -> OutreachSettings:
    db.session.expire_all()
    return OutreachSettings.query.filter_by(org_id=org.id).one()


# ---------------------------------------------------------------- who may

def test_only_admins_open_email_sending_and_send_test_messages(client, login_as):
    for role in ("rep", "manager"):
        login_as(role)
        assert client.get("/sequences/settings").status_code == 403
        assert save(client).status_code == 403
        assert client.post("/sequences/settings/test-message", data={"test_to": "x@example.com"}).status_code == 403
    assert OutreachSettings.query.count() == 0


def test_saving_without_a_csrf_token_changes_nothing(app, client, login_as, org, monkeypatch):
    login_as("admin")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = save(client)
    assert response.status_code in (302, 400) and OutreachSettings.query.count() == 0
    page = page_of(client.get("/sequences/settings"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert save(client, csrf_token=token).status_code == 303
    assert row(org).relay_host == "127.0.0.1"


def test_one_organisations_settings_never_reach_another(client, login_as, org, defaults):
    other = factories.make_org(name="Other Org")
    login_as("admin")
    assert save(client).status_code == 303
    assert sending_config(org.id).relay_source == ORGANISATION
    theirs = sending_config(other.id)
    assert theirs.smtp is None and theirs.postal_address == "" and theirs.base_url == "http://localhost:5000"


# ---------------------------------------------------------------- saving

def test_bad_values_are_named_next_to_their_fields_and_what_was_typed_stays(client, login_as, org):
    login_as("admin")
    response = save(client, relay_host="smtp://mail.example.com", relay_port="99999", relay_security="rot13",
                    relay_username="sales@example.com", relay_password="typed-secret-1",
                    public_url="http://crm.example.com", postal_address="1 Long Road\x00",
                    unsubscribe_mailto="not an address")
    page = page_of(response)
    assert response.status_code == 422
    for sentence in ("Type the relay&#39;s host name only, like smtp.example.com (no smtp:// and no port).",
                     "The port must be a number from 1 to 65535",
                     "Choose STARTTLS, SSL/TLS or none.",
                     "The public address must start with https://",
                     "The postal address contains characters that are not valid text.",
                     "Type an email address like unsubscribe@example.com, or leave it empty.",
                     "Nothing was saved: check the fields marked below."):
        assert sentence in page, sentence
    assert 'value="smtp://mail.example.com"' in page and 'value="99999"' in page
    assert 'value="http://crm.example.com"' in page and 'value="sales@example.com"' in page
    assert "typed-secret-1" not in page  # a password is never sent back, not even the one just typed
    assert OutreachSettings.query.count() == 0


def test_a_good_save_says_so_and_the_password_is_stored_encrypted_and_never_shown(client, login_as, org, relays):
    _, port = relays()
    login_as("admin")
    response = save(client, relay_port=str(port), relay_username="sales@example.com", relay_password="hunter2-relay")
    assert response.status_code == 303
    page = page_of(client.get(response.headers["Location"]))
    assert f"Saved. Messages are delivered through 127.0.0.1:{port} (no encryption)" in page
    stored = row(org)
    assert "hunter2-relay" not in stored.relay_password_encrypted
    assert crypto.decrypt(stored.relay_password_encrypted, crypto.RELAY_PASSWORDS) == "hunter2-relay"
    assert "hunter2-relay" not in page and "Saved: leave empty to keep it" in page
    assert 'value="sales@example.com"' in page and 'value="https://crm.example.com"' in page
    # Saving again without typing it keeps it; a new host needs it typed again.
    assert save(client, relay_port=str(port), relay_username="sales@example.com").status_code == 303
    assert crypto.decrypt(row(org).relay_password_encrypted, crypto.RELAY_PASSWORDS) == "hunter2-relay"
    moved = save(client, relay_host="localhost", relay_port=str(port), relay_username="sales@example.com")
    assert moved.status_code == 422 and "Type the password again: the relay&#39;s host changed" in page_of(moved)
    assert row(org).relay_host == "127.0.0.1"
    # Emptying the username forgets the password.
    assert save(client, relay_port=str(port)).status_code == 303
    assert row(org).relay_password_encrypted == "" and row(org).relay_username == ""


def test_a_host_that_resolves_to_loopback_is_refused_when_internal_hosts_are_off(app, client, login_as, org,
                                                                                  monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_INTERNAL_HOSTS", False)
    login_as("admin")
    response = save(client, relay_host="localhost", relay_port="2525")
    assert response.status_code == 422
    assert "localhost is a local or private network address; Stagegate connects only to public hosts" \
        in page_of(response)
    assert "127.0.0.1" not in page_of(response).split("<main", 1)[1]  # never which internal address
    assert OutreachSettings.query.count() == 0


def test_odd_input_is_a_clear_422_never_a_500(client, login_as, org):
    login_as("admin")
    for fields in ({"relay_host": "\ud800.example.com"}, {"relay_username": "a\x00b"},
                   {"relay_password": "p\x00w", "relay_username": "u"}, {"postal_address": "x" * 5000},
                   {"public_url": "https://[::1"}, {"public_url": "https://crm.example.com:99999"},
                   {"relay_port": "１２３"}, {"relay_host": "a" * 300}, {"unsubscribe_mailto": "a\x00@x.example"}, {"public_url": "https://crm.\ud83d.example"},
                   {"relay_host": "exa mple.com"}, {"public_url": "https://user:pw@crm.example.com"}):
        body = urlencode({**READY, **fields}, encoding="utf-8", errors="surrogatepass")  # bytes no browser sends
        response = client.post("/sequences/settings", data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 422, (fields, page_of(response)[:300])
    assert OutreachSettings.query.count() == 0


# ---------------------------------------------------------------- sending_config

def test_a_relay_without_a_postal_address_hands_nothing_over_until_the_address_is_saved(
        app, client, login_as, org, defaults, relays):
    relay, port = relays()
    manager = factories.user(org, "manager")
    sequence = make_sequence(org, manager)
    contact = make_contact(org, "pat@prospect.example", "Pat", None)
    service.enroll(sequence, contact, manager)
    login_as("admin")
    assert save(client, relay_port=str(port), postal_address="").status_code == 303
    assert sending_config(org.id).held
    assert sweep_due()["held"] == 1
    assert relay.messages == [] and StepSend.query.count() == 0  # nothing claimed, nothing counted
    enrollment = Enrollment.query.one()
    assert enrollment.status == "active" and enrollment.position == 1  # still waiting at its first step
    page = page_of(client.get(f"/sequences/{sequence.id}"))
    assert "Real sending is off" in page and "postal address" in page
    assert save(client, relay_port=str(port)).status_code == 303  # READY has the postal address
    assert sweep_due(utcnow() + timedelta(minutes=11))["sent"] == 1  # picked up at its next check
    assert [m[1] for m in relay.messages] == [["pat@prospect.example"]]
    assert StepSend.query.one().status == "sent"


def test_sending_config_names_what_stops_real_sending(app, org, defaults):
    config = sending_config(org.id)
    assert config.smtp is None and not config.ready and not config.held
    assert config.where == ("No relay is set up: messages are kept in the outbox file store of this installation "
                            "and not delivered.")
    assert [p.split(" ")[0:3] for p in config.problems] == [["Set", "up", "a"], ["The", "public", "address"],
                                                             ["Add", "the", "postal"]]
    assert "(http://localhost:5000) is not an https address" in config.problems[1]
    assert isinstance(org_transport(org.id), Outbox)


def test_saved_settings_win_over_smtp_url_and_base_url_field_by_field(app, client, login_as, org, defaults, relays):
    _, port = relays()
    defaults["SMTP_URL"] = "smtp+starttls://install:install-pw@relay.install.example:2587"
    defaults["BASE_URL"] = "https://crm.install.example"
    defaults["UNSUBSCRIBE_MAILTO"] = "optout@install.example"
    installation = sending_config(org.id)
    assert (installation.relay_source, installation.smtp.host, installation.smtp.password) == \
        (INSTALLATION, "relay.install.example", "install-pw")
    assert installation.base_url == "https://crm.install.example" and installation.unsubscribe_mailto == "optout@install.example"
    assert installation.problems == ("Add the postal address for the footer: anti-spam laws ask for one in every "
                                     "sales email.",)
    assert installation.held and isinstance(org_transport(org.id), HeldMailer)
    login_as("admin")
    # Only the postal address: the installation's relay and address stay, and sending may start.
    assert save(client, relay_host="", public_url="").status_code == 303
    config = sending_config(org.id)
    assert config.ready and config.smtp.host == "relay.install.example" and config.base_url == "https://crm.install.example"
    assert type(org_transport(org.id)) is SmtpMailer
    # The organisation's relay replaces the whole relay (never the installation's password with it).
    assert save(client, relay_port=str(port), public_url="https://sales.acme.example/",
                unsubscribe_mailto="Leave@Acme.example").status_code == 303
    config = sending_config(org.id)
    assert (config.smtp.host, config.smtp.port, config.smtp.security, config.smtp.username, config.smtp.password) == \
        ("127.0.0.1", port, "plain", "", "")
    assert config.base_url == "https://sales.acme.example" and config.mail_domain == "sales.acme.example"
    assert config.unsubscribe_mailto == "leave@acme.example" and config.ready
    assert isinstance(org_transport(org.id), GuardedSmtpMailer)


def test_a_public_address_on_localhost_or_a_private_network_is_a_problem(org, defaults):
    for base in ("https://localhost:5000", "https://10.0.0.8", "https://crm.localhost"):
        defaults["BASE_URL"] = base
        assert any("points at this machine or a private network" in p for p in sending_config(org.id).problems)
    defaults["BASE_URL"] = "https://crm.example.com"
    assert not any("public address" in p for p in sending_config(org.id).problems)


def test_a_password_the_secret_key_cannot_read_holds_sending(app, client, login_as, org, relays, monkeypatch):
    _, port = relays()
    login_as("admin")
    save(client, relay_port=str(port), relay_username="u", relay_password="pw")
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-new-secret")
    config = sending_config(org.id)
    assert config.held and "The relay's password can no longer be read" in config.problems[0]
    assert "The relay&#39;s password can no longer be read" in page_of(send_test(client))


def test_held_sending_hands_nothing_over(org, defaults):
    with pytest.raises(InstallationFailure, match="Real sending is off until this is set: Set up a relay"):
        HeldMailer(sending_config(org.id).problems).send(None, "a@example.com", "b@example.com")


def test_the_organisations_relay_is_checked_again_before_it_is_used(app, client, login_as, org, relays,
                                                                     monkeypatch, contact):
    relay, port = relays()
    login_as("admin")
    save(client, relay_port=str(port))
    mailer = org_transport(org.id)
    monkeypatch.setitem(app.config, "ALLOW_INTERNAL_HOSTS", False)
    with pytest.raises(InstallationFailure, match="is a local or private network address"):
        mailer.send(_message(), "ann@example.com", "pat@prospect.example")
    monkeypatch.setitem(app.config, "ALLOW_INTERNAL_HOSTS", True)
    mailer.send(_message(), "ann@example.com", "pat@prospect.example")
    mailer.close()
    assert [m["Subject"] for _, _, m in relay.messages] == ["Hello"]


def _message():
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"], message["Message-ID"] = "Hello", "<t1@example.com>"
    message.set_content("Hi")
    return message


# ---------------------------------------------------------------- the test message

def send_test(client, to="ann@example.com"):
    return client.post("/sequences/settings/test-message", data={"test_to": to})


def test_the_test_message_shows_the_relays_own_250_with_its_queue_id(client, login_as, org, relays):
    relay, port = relays()
    admin = login_as("admin")
    save(client, relay_port=str(port))
    response = send_test(client, "")  # empty: to the admin's own address
    assert response.status_code == 200
    assert f"The relay accepted the test message for {admin.email}: {QUEUED}" in page_of(response)
    (sender, recipients, message), = relay.messages
    assert sender == admin.email and recipients == [admin.email] and message["Subject"] == "Stagegate test message"
    htmx = client.post("/sequences/settings/test-message", data={"test_to": "ops@example.com"},
                       headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and page_of(htmx).startswith('<div id="test-result"')
    assert "The relay accepted the test message for ops@example.com: 250 2.0.0 Ok: queued as 4BQ7X1" in page_of(htmx)


def test_a_relay_that_requires_a_login_answers_a_wrong_password_with_its_code(client, login_as, org, relays):
    relay, port = relays(auth_required=True, auth_require_tls=False,
                         authenticator=login_checker("sales@example.com", "right-pw"))
    login_as("admin")
    save(client, relay_port=str(port))
    assert "The relay refused the sender" in page_of(send_test(client)) and "530 5.7.0 Authentication required" \
        in page_of(send_test(client))
    save(client, relay_port=str(port), relay_username="sales@example.com", relay_password="wrong-pw")
    page = page_of(send_test(client))
    assert "The relay refused the login: 535 5.7.8 Authentication credentials invalid" in page
    assert "Traceback" not in page and "wrong-pw" not in page
    save(client, relay_port=str(port), relay_username="sales@example.com", relay_password="right-pw")
    assert f"accepted the test message for ann@example.com: {QUEUED}" in page_of(send_test(client))
    assert len(relay.messages) == 1


def test_a_refused_sender_shows_the_relays_code_and_text(client, login_as, org, relays):
    _, port = relays(Relay(refuse_sender="553 5.7.1 Sender address rejected: not owned by user"))
    admin = login_as("admin")
    save(client, relay_port=str(port))
    assert (f"The relay refused the sender {admin.email}: 553 5.7.1 Sender address rejected: not owned by user"
            in page_of(send_test(client)))


def test_tls_with_an_untrusted_certificate_is_named_as_such(client, login_as, org, relays, tmp_path):
    _, port = relays(tls_context=self_signed_context(tmp_path))
    login_as("admin")
    save(client, relay_port=str(port), relay_security="starttls")
    page = page_of(send_test(client))
    assert f"TLS with 127.0.0.1:{port} failed: the relay&#39;s certificate could not be verified" in page


def test_starttls_that_the_relay_does_not_offer_is_named(client, login_as, org, relays):
    _, port = relays()
    login_as("admin")
    save(client, relay_port=str(port), relay_security="starttls")
    assert f"The relay at 127.0.0.1:{port} does not offer STARTTLS: choose SSL/TLS or none." in page_of(send_test(client))


def test_every_connection_failure_reads_the_same_and_shows_nothing_internal(client, login_as, org):
    login_as("admin")
    port = free_port()  # nothing listens there
    for security in ("none", "ssl"):
        save(client, relay_port=str(port), relay_security=security)
        page = page_of(send_test(client))
        assert f"Could not connect to 127.0.0.1:{port}." in page
        assert "Errno" not in page and "Traceback" not in page and "refused" not in page.lower().split("<main", 1)[1]


def test_the_test_message_refuses_a_host_that_turned_internal_before_connecting(app, client, login_as, org,
                                                                               relays, monkeypatch):
    relay, port = relays()
    login_as("admin")
    save(client, relay_host="localhost", relay_port=str(port))
    monkeypatch.setitem(app.config, "ALLOW_INTERNAL_HOSTS", False)
    assert "localhost is a local or private network address" in page_of(send_test(client))
    assert relay.messages == []


def test_without_any_relay_the_test_message_says_there_is_nothing_to_test(client, login_as, org, defaults):
    login_as("admin")
    page = page_of(send_test(client))
    assert "No relay is set up: messages are kept in the outbox file store" in page and "no relay to test" in page


def test_a_bad_test_address_is_named_and_nothing_is_sent(client, login_as, org, relays):
    relay, port = relays()
    login_as("admin")
    save(client, relay_port=str(port))
    response = send_test(client, "not-an-address\x00")
    assert response.status_code == 422 and "Type the email address to send the test message to" in page_of(response)
    assert relay.messages == []


def test_test_messages_are_rate_limited_per_organisation(app, client, login_as, org, relays, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TEST_RATE_LIMIT", "2 per hour")
    relay, port = relays()
    login_as("admin")
    save(client, relay_port=str(port))
    send_test(client, "bad address")  # refused before the limit: does not count
    codes = [send_test(client).status_code for _ in range(3)]
    assert codes == [200, 200, 429] and len(relay.messages) == 2
    assert "No test message was sent: an organisation may send 2 per hour. Try again later." in page_of(send_test(client))
    login_as("admin", factories.user(factories.make_org(name="Elsewhere"), "admin"))
    save(client, relay_port=str(port))
    assert send_test(client).status_code == 200  # another organisation has its own allowance


# ---------------------------------------------------------------- the outbox and where mail goes

def make_sends(org, sequence, owner, statuses):
    """One StepSend per status, for contacts owned by `owner`."""
    for i, status in enumerate(statuses):
        contact = make_contact(org, f"{status}{i}.{owner.id}@prospect.example", f"P {i}", None)
        enrollment = service.enroll(sequence, contact, owner)
        db.session.add(StepSend(org_id=org.id, enrollment_id=enrollment.id, step_id=sequence.steps[0].id, position=1,
                                sender_id=owner.id, status=status, to_email=contact.email, claimed_at=utcnow(),
                                error="Refused: RCPT TO x: 550 5.1.1 No such user" if status == "skipped" else ""))
    db.session.commit()


def test_the_outbox_lists_the_latest_emails_with_state_and_the_relays_answer(client, login_as, org, sequence, defaults):
    rep = factories.user(org, "rep")
    other_rep = create_user(org, "rex@org.example.com", "Rex Rep", "rep", factories.PASSWORD)
    make_sends(org, sequence, rep, ["sending", "sent", "unknown", "skipped"])
    make_sends(org, sequence, other_rep, ["sent"])
    stranger = factories.make_org(name="Stranger Org")
    make_sends(stranger, make_sequence(stranger), factories.user(stranger, "rep"), ["sent"])
    login_as("rep", rep)
    page = page_of(client.get("/sequences/outbox"))
    assert page.count('class="record outbox-row"') == 4 and f"sent0.{other_rep.id}@" not in page
    assert "Queued" in page and "Not sent" in page and "Relay: Refused: RCPT TO x: 550 5.1.1 No such user" in page
    assert "Cold outreach, step 1</a>" in page
    login_as("manager")
    page = page_of(client.get("/sequences/outbox"))
    assert page.count('class="record outbox-row"') == 5 and "Stranger" not in page
    queued = page_of(client.get("/sequences/outbox?state=queued"))
    assert queued.count('class="record outbox-row"') == 1 and f"sending0.{rep.id}@" in queued
    for odd in ("?state=%00", "?page=99999999999", "?page=-1", "?state=task"):
        assert client.get("/sequences/outbox" + odd).status_code == 200


def test_the_outbox_pages_through_the_latest_thousand(client, login_as, org, sequence):
    rep = factories.user(org, "rep")
    make_sends(org, sequence, rep, ["sent"] * 51)
    login_as("rep", rep)
    first = page_of(client.get("/sequences/outbox"))
    assert first.count('class="record outbox-row"') == 50 and "Older →" in first
    second = page_of(client.get("/sequences/outbox?page=2"))
    assert second.count('class="record outbox-row"') == 1 and "← Newer" in second and "Older →" not in second


def test_a_sent_email_appears_in_the_outbox_after_the_sweep(client, login_as, org, sequence, smtp, contact):
    smtp()
    rep = login_as("rep")
    service.enroll(sequence, contact, rep)
    sweep_due()
    assert Enrollment.query.one().position == 2
    page = page_of(client.get("/sequences/outbox?state=sent"))
    assert "pat@prospect.example" in page and "Sent</span>" in page


def test_no_page_shows_a_server_path(app, client, login_as, org, sequence, defaults):
    login_as("admin")
    for url in ("/sequences/", f"/sequences/{sequence.id}", "/sequences/settings", "/sequences/outbox"):
        page = page_of(client.get(url))
        assert app.instance_path not in page and ".eml" not in page and "instance/" not in page, url
        assert "No relay is set up: messages are kept in the outbox file store of this installation" in page, url
