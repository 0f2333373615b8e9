"""API: create, list, read, edit and move deals, all through the gate service."""

import re
from decimal import Decimal

from flask import jsonify, url_for
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.parse import (
    AMOUNT_PATTERN,
    CURRENCY_PATTERN,
    EMAIL_MAX,
    check_keys,
    id_value,
    json_object,
    object_value,
    paginate,
    query_choice,
    query_id,
    query_page,
    query_text,
    raise_if,
    text_value,
    time_value,
    version_value,
)
from app.contacts.service import clean_email, company_named, contact_with_email
from app.deals.board import load_structure
from app.deals.service import (
    KEEP,
    MAX_AMOUNT,
    MAX_REASON,
    MAX_TITLE,
    clean_close_date,
    create_deal,
    move_deal,
    parse_new_facts,
    update_deal,
)
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Company, Deal, Pipeline, Stage, StageTransition, User
from app.tenancy import current_actor, get_or_404, scoped
from app.text import clean_title, encodes
from app.webhooks.shapes import deal_json

MAX_NUMBER_AMOUNT = MAX_AMOUNT - Decimal("0.005")  # the largest number that rounds below MAX_AMOUNT
CREATE_KEYS = {"pipeline_id", "title", "amount", "currency", "owner_email", "contact_email", "facts",
               "stage_id", "created_at", "stage_entered_at", "reason", "override_reason", "company", "company_id",
               "expected_close_date"}
PATCH_KEYS = {"version", "title", "amount", "facts", "company", "company_id", "expected_close_date"}
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)  # exactly YYYY-MM-DD, as the document says
MOVE_KEYS = {"stage_id", "version", "facts", "reason", "loss_reason_id", "at", "override_reason"}
PATCH_HINTS = {"stage_id": "cannot be changed here; POST /api/v1/deals/<id>/move"}


def _close_date(body: dict, errors: dict):
    """`expected_close_date` as a date: "YYYY-MM-DD" only (no spaces, no other ISO spelling); None when null."""
    value = body.get("expected_close_date")
    if value is None:
        return None
    if not isinstance(value, str) or not DAY.fullmatch(value):
        errors["expected_close_date"] = 'must be a date as "YYYY-MM-DD", e.g. "2026-11-03"'
        return None
    try:
        return clean_close_date(value)
    except Invalid as exc:
        errors.update(exc.fields)
        return None


def _company_ref(body: dict, errors: dict):
    """Read `company` (a name) or `company_id`: ("id", n), ("name", text), ("clear",), or None when absent."""
    if "company" in body and "company_id" in body:
        errors["company"] = "give company (a name) or company_id, not both"
        return None
    if "company_id" in body:
        if body["company_id"] is None:
            return ("clear",)
        company_id = id_value(body, "company_id", errors)
        return ("id", company_id) if company_id is not None else None
    if "company" not in body:
        return None
    name = text_value(body, "company", errors, limit=200)
    if "company" in errors:
        return None
    if name is not None and not encodes(name):
        errors["company"] = "must be valid Unicode text"
        return None
    return ("name", name.strip()) if name and name.strip() else ("clear",)


def _company(ref, org_id: int):
    """Resolve a company reference after validation: by id (404-free: a 422 naming company_id), or by
    name matched case-insensitively, created when new. Returns KEEP when the body named none."""
    if ref is None:
        return KEEP
    if ref[0] == "clear":
        return None
    if ref[0] == "name":
        return company_named(org_id, ref[1])
    found = scoped(Company).filter_by(id=ref[1]).first()
    if found is None:
        raise_if({"company_id": "is not a company of this organisation"})
    return found


def _amount(body: dict, errors: dict):
    """The amount as the document describes it: a decimal string, a number, "" or null."""
    value = body.get("amount")
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(AMOUNT_PATTERN, value):
        return value
    # Amounts keep cents: a number rounds to 2 places before the bound applies (999999999999.999 is 1e12).
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < MAX_NUMBER_AMOUNT:
        return value
    errors["amount"] = 'must be a decimal string such as "12500.00", from 0 to 999,999,999,999.99'
    return None


def _currency(body: dict, errors: dict):
    value = text_value(body, "currency", errors, limit=3)
    if value is not None and not re.fullmatch(CURRENCY_PATTERN, value):
        errors["currency"] = "must be a three-letter currency code"
        return None
    return value or None


def _also_service_errors(errors: dict, pipeline_id, title, facts) -> dict:
    """When the API layer refuses a field, add what the service would say about the title and
    facts too (with its own validators), so one answer names every bad field."""
    if not errors:
        return errors
    found = {}
    if title is not None:
        try:
            clean_title(title, MAX_TITLE)
        except Invalid as exc:
            found.update(exc.fields)
    pipeline = scoped(Pipeline).filter_by(id=pipeline_id).first() if pipeline_id else None
    if pipeline is not None and isinstance(facts, dict):
        found.update(parse_new_facts(pipeline, facts)[1])
    return {**found, **errors}


def _owner(email, errors: dict):
    if email is None:
        return None
    user = User.query.filter_by(org_id=current_actor().org_id, email=email.strip().lower()).first()
    if user is None:
        errors["owner_email"] = "is not a user of this organisation"
    return user


def _contact_email(email, errors: dict):
    if email is None:
        return None
    try:
        return clean_email(email)
    except Invalid as exc:
        errors["contact_email"] = exc.fields["email"]
        return None


def _override_reason(body: dict, errors: dict) -> str:
    """Read `override_reason`; only a manager's or an admin's key may send one."""
    value = text_value(body, "override_reason", errors, limit=MAX_REASON) or ""
    if value.strip() and not current_actor().has_role("manager"):
        raise Forbidden("Only an admin's or a manager's API key can override the gate (override_reason); "
                        "send the missing facts instead.")
    return value


@bp.post("/deals")
def create():
    """Create a deal in a stage (default: the first open stage) if the gate from the pipeline's start passes."""
    body = json_object()
    errors = {}
    check_keys(body, CREATE_KEYS, errors)
    pipeline_id = id_value(body, "pipeline_id", errors, required=True)
    stage_id = id_value(body, "stage_id", errors)
    title = text_value(body, "title", errors, limit=MAX_TITLE)
    if "title" not in errors and title is None:
        errors["title"] = "is required"
    amount = _amount(body, errors)
    currency = _currency(body, errors)
    owner = _owner(text_value(body, "owner_email", errors, limit=EMAIL_MAX), errors)
    contact_email = _contact_email(text_value(body, "contact_email", errors, limit=EMAIL_MAX), errors)
    facts = object_value(body, "facts", errors)
    reason = text_value(body, "reason", errors, limit=MAX_REASON)
    override_reason = _override_reason(body, errors)
    created_at = time_value(body, "created_at", errors)
    stage_entered_at = time_value(body, "stage_entered_at", errors)
    company_ref = _company_ref(body, errors)
    expected_close_date = _close_date(body, errors)
    raise_if(_also_service_errors(errors, pipeline_id, title, facts))
    pipeline = get_or_404(Pipeline, pipeline_id)
    if pipeline.archived:
        raise_if({"pipeline_id": "is archived"})
    stage = get_or_404(Stage, stage_id) if stage_id is not None else None
    actor = current_actor()
    contact = contact_with_email(actor.org_id, contact_email, (owner or actor).id) if contact_email else None
    company = _company(company_ref, pipeline.org_id)
    deal = create_deal(
        pipeline, actor, title=title, stage=stage, owner=owner, amount=amount, currency=currency,
        facts=facts, contact=contact, reason=reason or "", override_reason=override_reason,
        company=None if company is KEEP else company, expected_close_date=expected_close_date,
        # History moved over from another CRM: a deal that entered a stage then existed then.
        created_at=created_at or stage_entered_at, stage_entered_at=stage_entered_at, source="api",
    )
    response = jsonify(deal_json(deal))
    response.status_code = 201
    response.headers["Location"] = url_for("api.show", deal_id=deal.id)
    return response


@bp.get("/deals")
def index():
    """List deals by id, 50 a page, filtered by pipeline, stage, status and owner."""
    errors = {}
    pipeline_id = query_id("pipeline_id", errors)
    stage_id = query_id("stage_id", errors)
    status = query_choice("status", ("open", "won", "lost"), errors)
    page = query_page(errors)
    owner_email = query_text("owner_email", errors).lower()
    raise_if(errors)
    query = scoped(Deal).options(db.joinedload(Deal.owner), db.joinedload(Deal.contact))
    if pipeline_id is not None:
        query = query.filter(Deal.pipeline_id == pipeline_id)
    if stage_id is not None:
        query = query.filter(Deal.stage_id == stage_id)
    if status is not None:
        query = query.filter(Deal.status == status)
    if owner_email:
        query = query.join(User, Deal.owner_id == User.id).filter(
            User.email == owner_email, User.org_id == current_actor().org_id)
    return paginate(query.order_by(Deal.id), page, deal_json)


@bp.get("/deals/<int:deal_id>")
def show(deal_id):
    """Return one deal."""
    return deal_json(get_or_404(Deal, deal_id))


@bp.patch("/deals/<int:deal_id>")
def edit(deal_id):
    """Edit a deal's title, amount, company, expected close date and facts at the version the caller read."""
    deal = get_or_404(Deal, deal_id)
    body = json_object()
    errors = {}
    check_keys(body, PATCH_KEYS, errors, PATCH_HINTS)
    version = version_value(body, errors, required=True)
    title = text_value(body, "title", errors, limit=MAX_TITLE)
    if "title" in body and title is None and "title" not in errors:
        title = ""  # null: the service says a title is required
    amount = _amount(body, errors)
    if "facts" in body and not isinstance(body["facts"], dict):
        errors["facts"] = "must be an object of field keys to values"
    company_ref = _company_ref(body, errors)
    expected_close_date = _close_date(body, errors)
    raise_if(_also_service_errors(errors, deal.pipeline_id, title, body.get("facts")))
    update_deal(
        deal, current_actor(), version=version, title=title, company=_company(company_ref, deal.org_id),
        # null clears the date; an absent key leaves it alone.
        expected_close_date=expected_close_date if "expected_close_date" in body else KEEP,
        # An explicit null clears the amount; an absent key leaves it alone.
        amount=("" if amount is None else amount) if "amount" in body else None,
        facts=body.get("facts"), source="api",
    )
    return deal_json(deal)


@bp.post("/deals/<int:deal_id>/move")
def move(deal_id):
    """Move a deal to a stage if the gate passes, saving sent facts with the move."""
    # The owner, company and contact the reply shows come with the deal (one statement, not four).
    deal = get_or_404(Deal, deal_id, options=[joinedload(Deal.owner), joinedload(Deal.company),
                                              joinedload(Deal.contact)])
    body = json_object()
    errors = {}
    check_keys(body, MOVE_KEYS, errors)
    stage_id = id_value(body, "stage_id", errors, required=True)
    loss_reason_id = id_value(body, "loss_reason_id", errors)
    version = version_value(body, errors, required=False)
    facts = object_value(body, "facts", errors)
    reason = text_value(body, "reason", errors, limit=MAX_REASON)
    at = time_value(body, "at", errors)
    override_reason = _override_reason(body, errors)
    raise_if(errors)
    actor = current_actor()
    if "at" in body and body["at"] is not None and not actor.has_role("admin"):
        raise Forbidden("Only an admin's API key can record a move in the past ('at').")
    # The pipeline's structure read once (3 statements); the gate then reads it from the session.
    pipeline = load_structure(deal.pipeline_id)
    stage = next((s for s in pipeline.stages if s.id == stage_id), None) or get_or_404(Stage, stage_id)
    move_deal(deal, stage, actor, facts=facts, version=version, reason=reason or "",
              loss_reason_id=loss_reason_id, at=at, override_reason=override_reason, source="api")
    return deal_json(deal)


@bp.get("/deals/<int:deal_id>/transitions")
def transitions(deal_id):
    """List a deal's stage changes, oldest first, with the criteria checked for each."""
    deal = get_or_404(Deal, deal_id)
    rows = (StageTransition.query.filter_by(org_id=deal.org_id, deal_id=deal.id)
            .options(db.joinedload(StageTransition.user))
            .order_by(StageTransition.at, StageTransition.id).all())
    return jsonify([t.as_api() for t in rows])
