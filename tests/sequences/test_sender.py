"""Who signs the email: the contact's owner (the rep the lead was routed to), else the person who enrolled them."""

from datetime import timedelta

from app.admin.service import set_active
from app.auth.service import create_user
from app.extensions import db
from app.models import Contact, Enrollment, Notification, StepSend, utcnow
from app.sequences import service
from tests import factories
from tests.factories import make_contact
from tests.sequences.test_sending import sweep


def _rep(org, name):
    return create_user(org, f"{name.split()[0].lower()}@agency.example", name, "rep", factories.PASSWORD)


def _owned_contact(org, owner):
    contact = make_contact(org)
    contact.owner_id = owner.id
    db.session.commit()
    return contact


def test_the_contacts_owner_signs_the_email_not_the_manager_who_enrolled_them(client, login_as, smtp, org, sequence,
                                                                               key_for):
    inbox = smtp()
    owner = _rep(org, "Olivia Owner")
    contact = _owned_contact(org, owner)
    manager = login_as("manager")
    page = client.post("/sequences/enroll", data={"contact_id": contact.id, "sequence_id": sequence.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "Olivia Owner, the contact&#39;s owner, is the sender." in page
    assert sweep()["sent"] == 1
    [message] = inbox.to(contact.email)
    assert message["From"].addresses[0].addr_spec == owner.email and "Olivia Owner" in str(message["From"])
    assert message.get_body().get_content().rstrip().splitlines()[1] == "Olivia Owner"  # {{owner_name}}
    assert inbox.raw[0][0] == owner.email  # the envelope sender too
    enrollment = Enrollment.query.one()
    assert enrollment.owner_id == owner.id and enrollment.enrolled_by_id == manager.id
    api = client.get(f"/api/v1/enrollments/{enrollment.id}", headers=key_for("admin")).json
    assert api["owner_email"] == owner.email


def test_a_contact_without_an_active_owner_is_sent_by_the_enroller(smtp, org, sequence, rep):
    inbox = smtp()
    gone = _rep(org, "Gina Gone")
    contact = _owned_contact(org, gone)
    set_active(factories.user(org, "admin"), gone, False)
    service.enroll(sequence, contact, rep)
    sweep()
    assert inbox.to(contact.email)[0]["From"].addresses[0].addr_spec == rep.email


def test_a_new_owner_before_the_first_email_sends_it_and_keeps_the_thread_after(smtp, org, sequence, rep):
    inbox = smtp()
    first, second, third = _rep(org, "Fay First"), _rep(org, "Sam Second"), _rep(org, "Tia Third")
    contact = _owned_contact(org, first)
    service.enroll(sequence, contact, rep)
    db.session.get(Contact, contact.id).owner_id = second.id  # the lead was routed again before the send
    db.session.commit()
    sweep()
    db.session.get(Contact, contact.id).owner_id = third.id
    db.session.commit()
    sweep(utcnow() + timedelta(days=3, minutes=1))
    senders = [m["From"].addresses[0].addr_spec for m in inbox.to(contact.email)]
    assert senders == [second.email, second.email]  # one voice per thread; replies land in one inbox
    assert {s.sender_id for s in StepSend.query} == {second.id}


def test_a_deactivated_sender_pauses_their_enrollments_and_the_managers_are_told_once(client, login_as, smtp, org,
                                                                                      sequence):
    inbox = smtp()
    sender = _rep(org, "Dora Departing")
    contacts = [make_contact(org, f"d{i}@prospect.example", f"D{i}", None) for i in range(3)]
    for c in contacts:
        service.enroll(sequence, c, sender)
    assert sweep()["sent"] == 3
    set_active(factories.user(org, "admin"), sender, False)
    later = utcnow() + timedelta(days=3, minutes=1)
    assert sweep(later)["paused"] == 3
    assert sweep(later + timedelta(hours=1)).get("paused", 0) == 0
    assert len(inbox.messages) == 3  # nothing more went out under a departed rep's name
    enrollments = Enrollment.query.all()
    assert {(e.status, e.pause_reason) for e in enrollments} == {("paused", "sender deactivated")}
    manager, admin = factories.user(org, "manager"), factories.user(org, "admin")
    for person in (manager, admin):
        notes = Notification.query.filter_by(user_id=person.id, kind="sequence").all()
        assert len(notes) == 1 and "Dora Departing" in notes[0].text
    login_as(who=manager)
    client.post(f"/sequences/enrollments/{enrollments[0].id}/resume")
    assert sweep(later + timedelta(days=3, hours=2))["sent"] == 1
    assert inbox.messages[-1][2]["From"].addresses[0].addr_spec == manager.email
