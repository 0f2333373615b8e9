"""The API's JSON shape of the objects webhook events carry, below every service that emits them.

`app/api/` answers its GETs with the same functions, so an event's `data` is the object as
the API shows it.
"""

from app.models import iso


def deal_json(deal) -> dict:
    return {
        "id": deal.id,
        "title": deal.title,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "status": deal.status,
        "owner_email": deal.owner.email,
        "amount": f"{deal.amount:.2f}" if deal.amount is not None else None,
        "currency": deal.currency,
        "facts": deal.facts or {},
        "facts_meta": deal.facts_meta or {},
        "version": deal.version,
        "stage_entered_at": iso(deal.stage_entered_at),
        "created_at": iso(deal.created_at),
        "closed_at": iso(deal.closed_at),
        "company_id": deal.company_id,
        "company": deal.company.name if deal.company_id else None,
        "contact_email": deal.contact.email if deal.contact_id else None,
        "expected_close_date": deal.expected_close_date.isoformat() if deal.expected_close_date else None,
    }


def task_json(task) -> dict:
    return {
        "id": task.id,
        "kind": task.kind,
        "title": task.title,
        "deal_id": task.deal_id,
        "contact_id": task.contact_id,
        "owner_email": task.owner.email if task.owner else None,
        "due_at": iso(task.due_at),
        "done_at": iso(task.done_at),
    }


def contact_json(contact, breakdown: list | None = None) -> dict:
    """A contact as GET /api/v1/contacts/<id> shows it; `breakdown` (the score's items) when the caller has it."""
    data = {
        "id": contact.id, "email": contact.email, "name": contact.name,
        "company": contact.company.name if contact.company else None, "title": contact.title,
        "owner_email": contact.owner.email if contact.owner else None, "status": contact.lead_status,
        "score": contact.lead_score, "fit": contact.fit_score, "engagement": contact.engagement_score,
        "hot": contact.score_level == "hot", "unsubscribed": contact.unsubscribed,
    }
    if breakdown is not None:
        data["breakdown"] = [{"rule": i["rule"], "points": i["points"],
                              **({"at": i["at"].isoformat() + "+00:00"} if i.get("at") else {})} for i in breakdown]
    return data


def step_json(step) -> dict:
    data = {"id": step.id, "title": step.title, "side": step.side,
            "due_on": step.due_on.isoformat() if step.due_on else None, "status": step.status}
    if step.requirement:
        data["requirement"] = step.requirement
    if step.status == "done":
        data["confirmed_by"] = step.confirmed_by
        data["confirmed_at"] = iso(step.confirmed_at)
    return data


def meeting_json(meeting) -> dict:
    return {"id": meeting.id, "deal_id": meeting.deal_id, "room_id": meeting.room_id,
            "contact_email": meeting.contact.email if meeting.contact_id else None,
            "owner_email": meeting.user.email if meeting.user_id else None,
            "starts_at": iso(meeting.starts_at), "ends_at": iso(meeting.ends_at), "status": meeting.status,
            "booked_by": meeting.booked_by, "uid": meeting.uid}
