"""Two buyers booking the same slot at the same moment: exactly one meeting, the other is told the time is gone."""

import threading

from app.booking import service
from app.errors import Invalid
from app.extensions import db
from app.models import Contact, Deal, Meeting, OutboundEmail, User


def test_two_concurrent_bookings_of_one_slot_make_exactly_one_meeting(app, org, open_rep, deal, buyer):
    other = Contact(org_id=org.id, email="lee@buyer.example", name="Lee Buyer")
    db.session.add(other)
    db.session.commit()
    start = service.open_slots(open_rep, 30)[0][0]
    ids = {"deal": deal.id, "rep": open_rep.id, "contacts": [buyer.id, other.id]}
    db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def attempt(contact_id):
        with app.app_context():
            deal_, rep, contact = db.session.get(Deal, ids["deal"]), db.session.get(User, ids["rep"]), \
                db.session.get(Contact, contact_id)
            barrier.wait(10)
            try:
                service.book(deal_, rep, contact, start, 30, contact.email)
                outcomes.append("booked")
            except Invalid as exc:
                outcomes.append(exc.fields.get("starts_at", exc.message))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in ids["contacts"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["That time is no longer open: pick another slot.", "booked"]
    assert Meeting.query.count() == 1
    assert OutboundEmail.query.count() == 2  # the winner's buyer and the rep; nothing for the refused one
