"""Every URL is guarded: anonymous users are turned away, roles are enforced, and another
organisation's ids are a 404. Parametrized over the URL map, so a new route is covered the day
it is added (and fails here until its id converter has an object below)."""

import re

import pytest
from flask import url_for

from app import create_app
from app.auth.service import create_api_key
from app.extensions import db
from app.models import ROLES, Company, Contact, LossReason, Notification, Task
from app.models.accounts import ROLE_RANK
from config import TestConfig
from tests import factories

# Reachable without signing in, on purpose. Keep this list short and explicit.
PUBLIC = {"static", "auth.login", "auth.signup", "main.healthz", "main.favicon", "api.openapi",
          "unsubscribe.confirm", "unsubscribe.one_click",  # one-click unsubscribe (RFC 8058)
          "forms.show", "forms.submit", "forms.view_pixel",  # the public lead form
          "room.show", "room.confirm",  # the deal room's buyer side: its token is the key (tests/rooms/)
          "room.open_document", "room.confirm_document", "room.book", "room.reschedule", "room.cancel",
          "room.comment", "room.propose", "room.colleague",
          "sms.inbound", "sms.status"}  # the SMS provider's webhooks: the URL's secret and Twilio's signature (tests/sms/)

# URL converter name -> the kind of object whose id it carries (common.md names them after the model).
ID_KINDS = {
    "pipeline_id": "pipeline", "stage_id": "stage", "field_id": "field", "deal_id": "deal", "user_id": "user",
    "contact_id": "contact", "company_id": "company", "task_id": "task", "key_id": "api_key",
    "notification_id": "notification", "import_id": "import", "reason_id": "loss_reason",
    "sequence_id": "sequence", "enrollment_id": "enrollment", "bulk_id": "bulk_enroll", "mailbox_id": "mailbox",
    "form_id": "lead_form", "rule_id": "fit_rule", "submission_id": "lead_submission",
    "quarantine_id": "quarantined_email",
    "pause_id": "sender_pause",
    "contact_email": "room_invitee",  # an invitee of the deal's room (DELETE .../room/invites/<contact_email>)
    "meeting_id": "meeting",
    "step_id": "room_step",  # a step of the deal's room plan (the seller's "Mark done")
    "document_id": "document", "number": "document_version",  # a deal-room document and its version's number
    "request_id": "room_colleague",  # a buyer's request that a colleague join the deal's room
    "webhook_id": "webhook", "delivery_id": "webhook_delivery",  # a webhook subscription and one of its deliveries
}

_app = create_app(TestConfig)
RULES = sorted(
    ((rule, method) for rule in _app.url_map.iter_rules() if rule.endpoint not in PUBLIC
     for method in sorted(rule.methods - {"HEAD", "OPTIONS"})),
    key=lambda pair: (pair[0].rule, pair[1]),
)


def _id(pair):
    return f"{pair[1]} {pair[0].rule}"


def _required_role(rule):
    return getattr(_app.view_functions[rule.endpoint], "required_role", None)


def is_api(rule) -> bool:
    return rule.rule.startswith("/api/")


def build_url(rule, ids: dict) -> str:
    values = {}
    for name in rule.arguments:
        if name not in ID_KINDS:
            pytest.fail(f"{rule.rule}: URL argument <{name}> has no test object. Add it to ID_KINDS and "
                        f"make_objects() in tests/test_url_map.py so its login, role and tenant checks run.")
        values[name] = ids[ID_KINDS[name]]
    return url_for(rule.endpoint, **values)


def make_objects(org) -> dict:
    """One object of each tenant-owned kind in `org`; return kind -> id."""
    pipeline = factories.pipeline(org)
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, owner=rep)
    company = Company(org_id=org.id, name="Umbrella Corp")
    contact = Contact(org_id=org.id, email=f"pat{org.id}@umbrella.example", name="Pat")
    db.session.add_all([company, contact])
    db.session.flush()
    task = Task(org_id=org.id, owner_id=rep.id, deal_id=deal.id, title="Call Pat")
    notification = Notification(org_id=org.id, user_id=rep.id, kind="handoff", text="Won")
    db.session.add_all([task, notification])
    db.session.commit()
    _, key = create_api_key(factories.user(org, "admin"), "url map key")
    ids = {
        "pipeline": pipeline.id, "stage": pipeline.stages[0].id, "field": pipeline.fields[0].id, "deal": deal.id,
        "user": rep.id, "contact": contact.id, "company": company.id, "task": task.id, "api_key": key.id,
        "notification": notification.id,
        "loss_reason": LossReason.query.filter_by(org_id=org.id).first().id,
    }
    ids["import"] = _make_import(org, pipeline)
    ids.update(_make_sequence_objects(org, contact))
    ids.update(_make_lead_objects(org))
    ids["room_invitee"], ids["room_step"], ids["room_colleague"] = _make_room(org, deal)
    ids["meeting"] = _make_meeting(org, deal, rep)
    ids["document"], ids["document_version"] = _make_document(org, deal)
    ids["webhook"], ids["webhook_delivery"] = _make_webhook(org)
    return ids


def _make_webhook(org) -> tuple[int, int]:
    """A subscription with one delivered event: (webhook id, delivery id)."""
    from app.models import Webhook, WebhookDelivery

    hook = Webhook(org_id=org.id, url="https://hooks.example/in", events=",deal.created,", secret="x")
    db.session.add(hook)
    db.session.flush()
    delivery = WebhookDelivery(org_id=org.id, webhook_id=hook.id, event_id=f"evt_map{org.id}",
                               event_type="deal.created", body="{}", status="delivered")
    db.session.add(delivery)
    db.session.commit()
    return hook.id, delivery.id


def _make_document(org, deal) -> tuple[int, int]:
    """A PDF shared on the deal: (document id, version number)."""
    import io

    from werkzeug.datastructures import FileStorage

    from app.documents.service import share

    upload = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="terms.pdf")
    version = share(deal, factories.user(org, "admin"), upload, title="Terms")
    return version.document_id, version.number


def _make_room(org, deal) -> tuple[str, int, int]:
    """Open the deal's room, add one of our steps, invite one person who asks for a colleague to join;
    return (their email, the step id, the colleague request's id)."""
    from app.rooms.service import add_step, invite, open_room
    from app.rooms.thread import ask_colleague

    room, _ = open_room(deal, factories.user(org, "admin"))
    step = add_step(room, factories.user(org, "admin"), title="Send the pricing", side="seller")
    email = f"buyer{org.id}@umbrella.example"
    made = invite(room, factories.user(org, "admin"), email, base_url="https://stagegate.test")
    ask = ask_colleague(made.invite, f"colleague{org.id}@umbrella.example")
    return email, step.id, ask.id


def _make_meeting(org, deal, rep) -> int:
    from datetime import timedelta

    from app.models import Meeting, utcnow

    start = utcnow() + timedelta(days=2)
    meeting = Meeting(org_id=org.id, deal_id=deal.id, user_id=rep.id, starts_at=start,
                      ends_at=start + timedelta(minutes=30), uid=f"url-map-{org.id}@stagegate", booked_by="rep")
    db.session.add(meeting)
    db.session.commit()
    return meeting.id


def _make_sequence_objects(org, contact) -> dict:
    from app.models import (
        BulkEnrollJob,
        Enrollment,
        Mailbox,
        QuarantinedEmail,
        SenderPause,
        Sequence,
        SequenceStep,
    )

    admin = factories.user(org, "admin")
    sequence = Sequence(org_id=org.id, name="Outreach")
    sequence.steps.append(SequenceStep(org_id=org.id, position=1, type="call"))
    db.session.add(sequence)
    db.session.flush()
    enrollment = Enrollment(org_id=org.id, sequence_id=sequence.id, contact_id=contact.id, owner_id=admin.id)
    job = BulkEnrollJob(org_id=org.id, sequence_id=sequence.id, user_id=admin.id)
    mailbox = Mailbox(org_id=org.id, host="imap.example", username="u", password_encrypted="x")
    held = QuarantinedEmail(org_id=org.id, source="webhook", message_key=f"k{org.id}", raw=b"Subject: x\r\n\r\n",
                            reason="It could not be read.")
    pause = SenderPause(org_id=org.id, kind="connection", reason="Could not connect to the relay.",
                        open_key=f"{org.id}:*")
    db.session.add_all([enrollment, job, mailbox, held, pause])
    db.session.commit()
    return {"sequence": sequence.id, "enrollment": enrollment.id, "bulk_enroll": job.id, "mailbox": mailbox.id,
            "quarantined_email": held.id, "sender_pause": pause.id}


def _make_lead_objects(org) -> dict:
    from app.models.leads import FitRule, LeadForm, LeadSubmission

    form = LeadForm(org_id=org.id, key=f"k{org.id}x", name="Demo request",
                    fields=[{"maps_to": "email", "label": "Email", "required": True}])
    rule = FitRule(org_id=org.id, field="industry", operator="in", value="Insurance", points=10)
    db.session.add_all([form, rule])
    db.session.flush()
    held = LeadSubmission(org_id=org.id, form_id=form.id, nonce=f"held{org.id}", status="held",
                          payload={"lead": {"email": "held@example.org"}})
    db.session.add(held)
    db.session.commit()
    return {"lead_form": form.id, "fit_rule": rule.id, "lead_submission": held.id}


def _make_import(org, pipeline):
    from app.models import activity

    job_model = getattr(activity, "ImportJob", None)
    if job_model is None:
        return 1
    job = job_model(org_id=org.id, user_id=factories.user(org, "admin").id, kind="deals", pipeline_id=pipeline.id)
    db.session.add(job)
    db.session.commit()
    return job.id


def call(client, method, url, headers=None):
    return client.open(url, method=method, headers=headers or {})


@pytest.mark.parametrize("rule, method", RULES, ids=map(_id, RULES))
def test_anonymous_is_sent_to_login_or_refused(app, client, rule, method):
    with app.test_request_context():
        url = build_url(rule, dict.fromkeys(ID_KINDS.values(), 1))
    response = call(client, method, url)
    if is_api(rule):
        assert response.status_code == 401, response.get_data(as_text=True)[:200]
        assert response.json["error"] == "unauthorized"
    else:
        assert response.status_code == 302, f"{method} {url} answered {response.status_code} to a stranger"
        assert re.search(r"/auth/login", response.headers["Location"])


ROLE_CASES = [(rule, method, role) for rule, method in RULES if _required_role(rule)
              for role in ROLES if ROLE_RANK[role] < ROLE_RANK[_required_role(rule)]]


@pytest.mark.parametrize("rule, method, role", ROLE_CASES, ids=[f"{r} {_id((u, m))}" for u, m, r in ROLE_CASES])
def test_user_below_the_required_role_is_forbidden(app, client, org, login_as, rule, method, role):
    ids = make_objects(org)  # the caller's own objects: only the role stands in the way
    login_as(role)
    with app.test_request_context():
        url = build_url(rule, ids)
    response = call(client, method, url)
    assert response.status_code == 403, f"{role} got {response.status_code} from {method} {url}"


TENANT_CASES = [(rule, method) for rule, method in RULES if rule.arguments]


@pytest.mark.parametrize("rule, method", TENANT_CASES, ids=map(_id, TENANT_CASES))
def test_another_organisations_ids_are_not_found(app, client, org, login_as, rule, method):
    theirs = make_objects(factories.make_org(name="Other Org"))
    mine = make_objects(org)
    assert theirs["deal"] != mine["deal"] and theirs["pipeline"] != mine["pipeline"]
    headers = None
    if is_api(rule):
        raw, _ = create_api_key(factories.user(org, "admin"), "tenant check")
        headers = {"Authorization": f"Bearer {raw}"}
    else:
        login_as("admin")
    with app.test_request_context():
        url = build_url(rule, theirs)
    response = call(client, method, url, headers)
    assert response.status_code == 404, f"{method} {url} with another organisation's ids: {response.status_code}"
