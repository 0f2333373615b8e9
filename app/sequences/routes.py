"""Sequences pages: list and stats, the builder with live preview, enrolling, bulk enrolment."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.contacts.service import search_contacts
from app.errors import Forbidden, Invalid
from app.htmx import is_htmx
from app.models import BulkEnrollJob, Contact, Deal, Enrollment, SenderPause, Sequence
from app.models.sequences import STEP_TYPES
from app.redirects import safe_next
from app.sequences import bp, replies, service, sms
from app.sequences.mail_settings import sending_config
from app.sequences.merge import FIELDS
from app.tenancy import current_actor, get_or_404, role_required, scoped
from app.text import page_number

WEEKDAYS = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun")]
PAGE = 50


@bp.app_template_global()
def sequence_box(contact):
    """What the contact page's sequences box shows: their enrollments and the sequences to enrol in."""
    return {"enrollments": service.contact_enrollments(contact),
            "sequences": service.active_sequences(contact.org_id),
            "blocked": service.why_not_enrollable(contact)}


@bp.route("/")
@login_required
def index():
    """List sequences with their headline numbers."""
    actor = current_actor()
    rows = [(s, service.sequence_stats(s)) for s in service.active_sequences(actor.org_id)]
    owner_id = None if actor.has_role("manager") else actor.id
    return render_template("sequences/index.html", rows=rows, unknown=service.unknown_sends(actor.org_id, owner_id),
                           failed=service.failed_sends(actor.org_id, owner_id), sending=sending_config(actor.org_id),
                           pauses=service.open_pauses(actor.org_id, actor), bands=service.BANDS)


def _form_values() -> dict:
    """Read the builder form: settings plus step rows type_N, wait_days_N, subject_N, body_N."""
    form = request.form
    steps = []
    indexes = sorted({int(k.split("_")[-1]) for k in form if k.startswith("type_") and k[5:].isdigit()})
    for i in indexes[:service.MAX_STEPS + 1]:
        kind = form.get(f"type_{i}", "")
        subject, body = form.get(f"subject_{i}", ""), form.get(f"body_{i}", "")
        if form.get(f"remove_{i}") or (kind == "" and not subject.strip() and not body.strip()):
            continue
        steps.append({"type": kind, "wait_days": form.get(f"wait_days_{i}", ""), "subject": subject, "body": body})
    return {"name": form.get("name", ""), "steps": steps, "send_days": "".join(form.getlist("send_days")),
            "send_start_hour": form.get("send_start_hour", ""), "send_end_hour": form.get("send_end_hour", ""),
            "daily_cap": form.get("daily_cap", ""), "spacing_minutes": form.get("spacing_minutes", "")}


def _builder(sequence, values, errors=None, status=200):
    preview_contact = scoped(Contact).order_by(Contact.id).first()
    return render_template("sequences/builder.html", sequence=sequence, values=values, errors=errors or {},
                           step_types=STEP_TYPES, weekdays=WEEKDAYS, merge_fields=FIELDS,
                           preview_contact=preview_contact, preview_as=request.form.get("contact_id", ""),
                           contacts=scoped(Contact).order_by(Contact.name, Contact.id).limit(200).all()), status


def _add_step(sequence, values):
    """Add an empty email step: over htmx only the steps come back, so "Preview as" and the rest stay."""
    values["steps"].append({"type": "email", "wait_days": 3, "subject": "", "body": ""})
    if is_htmx():
        return render_template("sequences/_steps.html", values=values, errors={}, step_types=STEP_TYPES,
                               added=len(values["steps"]) - 1)
    return _builder(sequence, values)


def _save(sequence):
    values = _form_values()
    if request.form.get("add_step"):
        return _add_step(sequence, values)
    try:
        saved = service.save_sequence(current_actor(), values, sequence)
    except Invalid as exc:
        return _builder(sequence, values, exc.fields, 422)
    flash(f"Saved “{saved.name}” with {len(saved.steps)} step{'s' if len(saved.steps) != 1 else ''}.", "success")
    return redirect(url_for("sequences.show", sequence_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
@role_required("manager")
def new():
    """Build a new sequence."""
    if request.method == "POST":
        return _save(None)
    first = {"type": "email", "wait_days": 0, "subject": "Quick question, {{first_name}}",
             "body": "Hi {{first_name}},\n\n\n\n{{owner_name}}"}
    return _builder(None, {"name": "", "steps": [first], "send_days": "12345", "send_start_hour": 8,
                           "send_end_hour": 18, "daily_cap": service.DEFAULT_CAP, "spacing_minutes": 5})


@bp.route("/<int:sequence_id>/edit", methods=["GET", "POST"])
@role_required("manager")
def edit(sequence_id):
    """Change a sequence's steps and send window."""
    sequence = get_or_404(Sequence, sequence_id)
    if request.method == "POST":
        return _save(sequence)
    return _builder(sequence, service.sequence_json(sequence))


@bp.post("/preview")
@login_required
def preview():
    """Render one step for a real contact; broken merge fields answer 422 with what is wrong."""
    actor = current_actor()
    contact_id = request.form.get("contact_id", "")
    contact = None
    if contact_id.isdigit() and 0 < int(contact_id) < 2**31:
        contact = scoped(Contact).filter(Contact.id == int(contact_id)).first()
    if contact is None:
        contact = scoped(Contact).order_by(Contact.id).first()
    step = request.form.get("step", "")
    suffix = f"_{step}" if step.isdigit() and len(step) < 4 else ""
    subject = request.form.get("subject" + suffix, "")[:500]
    body = request.form.get("body" + suffix, "")[:25_000]
    if contact is None:
        return render_template("sequences/_preview.html", result=None, contact=None)
    result = service.preview(subject, body, contact, actor, actor.org_id)
    return render_template("sequences/_preview.html", result=result, contact=contact), \
        (422 if result.problems else 200)


@bp.route("/<int:sequence_id>")
@login_required
def show(sequence_id):
    """A sequence: steps with their numbers, and its enrollments (50 a page)."""
    sequence = get_or_404(Sequence, sequence_id)
    page = page_number(request.args.get("page"))
    rows = scoped(Enrollment).filter_by(sequence_id=sequence.id) \
        .order_by(Enrollment.status.in_(("active", "paused")).desc(), Enrollment.enrolled_at.desc(),
                  Enrollment.id.desc()).offset((page - 1) * PAGE).limit(PAGE + 1).all()
    return render_template("sequences/show.html", sequence=sequence, stats=service.sequence_stats(sequence),
                           enrollments=rows[:PAGE], has_more=len(rows) > PAGE, page=page,
                           pauses=service.open_pauses(sequence.org_id, current_actor()),
                           sending=sending_config(sequence.org_id), bands=service.BANDS, step_types=STEP_TYPES,
                           skipped_texts=sms.skipped_texts(sequence.id)
                           if any(step.type == "sms" for step in sequence.steps) else [])


@bp.post("/<int:sequence_id>/archive")
@role_required("manager")
def archive(sequence_id):
    """Archive a sequence (its enrollments carry on; no new ones)."""
    sequence = get_or_404(Sequence, sequence_id)
    service.archive_sequence(sequence)
    flash(f"Archived “{sequence.name}”. Enrollments already running carry on.", "success")
    return redirect(url_for("sequences.index"))


@bp.post("/enroll")
@login_required
def enroll():
    """Enroll one contact (from its page, or its deal's) in a sequence."""
    actor = current_actor()
    contact = _scoped_id(Contact, "contact_id")
    sequence = _scoped_id(Sequence, "sequence_id")
    deal = _scoped_id(Deal, "deal_id") if request.form.get("deal_id") else None
    back = url_for("deals.show", deal_id=deal.id) if deal else url_for("contacts.show", contact_id=contact.id)
    try:
        enrollment = service.enroll(sequence, contact, actor, deal=deal,
                                    confirm_company=bool(request.form.get("confirm")))
    except service.CompanyWarning as exc:
        return render_template("sequences/confirm_enroll.html", contact=contact, sequence=sequence, deal=deal,
                               warning=exc.message, back=back)
    except service.AlreadyEnrolled:
        flash(f"{contact.display} is already in “{sequence.name}”.", "info")
    except Invalid as exc:
        flash(f"Not enrolled: {exc.message}", "error")
    else:
        sender = "You are the sender." if enrollment.owner_id == actor.id else \
            f"{enrollment.owner.name}, the contact's owner, is the sender."
        flash(f"Enrolled {contact.display} in “{sequence.name}”. {sender}", "success")
    return redirect(back)


def _scoped_id(model, name):
    raw = request.form.get(name, "")
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**31:
        abort(404)
    return get_or_404(model, int(raw))


def _enrollment_action(enrollment_id, action, done: str):
    enrollment = get_or_404(Enrollment, enrollment_id)
    try:
        action(enrollment, current_actor())
    except Forbidden as exc:
        flash(exc.message, "error")
    except Invalid as exc:
        flash(exc.message if not exc.fields else " ".join(exc.fields.values()), "error")
    else:
        flash(done.format(who=enrollment.contact.display), "success")
    return redirect(safe_next(request.form.get("next"))
                    or url_for("sequences.show", sequence_id=enrollment.sequence_id))


@bp.post("/enrollments/<int:enrollment_id>/stop")
@login_required
def stop(enrollment_id):
    """Stop an enrollment."""
    return _enrollment_action(enrollment_id, service.stop_enrollment, "Stopped the sequence for {who}.")


@bp.post("/enrollments/<int:enrollment_id>/replied")
@login_required
def mark_replied(enrollment_id):
    """Mark that the prospect replied: the sequence stops and a reply task is added."""
    return _enrollment_action(enrollment_id, replies.mark_replied,
                              "Marked {who} as replied: the sequence stopped and a reply task is on your list.")


@bp.post("/enrollments/<int:enrollment_id>/resume")
@login_required
def resume(enrollment_id):
    """Resume a paused enrollment (an unknown send counts as sent: it is never resent)."""
    return _enrollment_action(enrollment_id, service.resume_enrollment, "Resumed the sequence for {who}.")


@bp.post("/pauses/<int:pause_id>/resume")
@login_required
def resume_sending(pause_id):
    """Clear a sending pause (the paused sender or an admin): the next sweep tries again."""
    pause = get_or_404(SenderPause, pause_id)
    try:
        service.resume_sending(pause, current_actor())
    except Forbidden as exc:
        flash(exc.message, "error")
    else:
        whose = f"from {pause.user.email}" if pause.user_id else "for everyone"
        flash(f"Sending resumed {whose}. The next run tries again; if the relay still refuses, "
              "it pauses again and says why.", "success")
    return redirect(url_for("sequences.index"))


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def bulk_new():
    """Enroll every contact matching a contacts search in a sequence (a background job)."""
    actor = current_actor()
    q = (request.values.get("q") or "")[:200]
    ids = _matching_ids(actor.org_id, q)
    if request.method == "POST":
        sequence = _scoped_id(Sequence, "sequence_id")
        try:
            job = service.start_bulk_enroll(sequence, actor, ids, q)
        except Invalid as exc:
            flash(" ".join(exc.fields.values()), "error")
        else:
            return redirect(url_for("sequences.bulk", bulk_id=job.id))
    return render_template("sequences/bulk_new.html", q=q, count=len(ids), limit=service.BULK_LIMIT,
                           sequences=service.active_sequences(actor.org_id))


def _matching_ids(org_id: int, q: str) -> list:
    ids, page = [], 1
    while len(ids) < service.BULK_LIMIT:
        items, more = search_contacts(org_id, q, page)
        ids += [c.id for c in items]
        if not more:
            break
        page += 1
    return ids[:service.BULK_LIMIT]


@bp.get("/bulk/<int:bulk_id>")
@login_required
def bulk(bulk_id):
    """A bulk enrolment's progress (the page polls it) and, when done, who was skipped and why."""
    job = get_or_404(BulkEnrollJob, bulk_id)
    template = "sequences/_bulk_progress.html" if is_htmx() else "sequences/bulk.html"
    return render_template(template, job=job)
