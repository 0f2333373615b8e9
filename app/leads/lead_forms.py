"""Lead forms: building one (admin), and taking a submission (anyone, from the hosted page or an embed).

A submission creates or updates the contact, starts its response clock with an owner,
records a `form_fill` event (scored), schedules the follow-up or the hot-lead task, and
creates a deal through the gate when the form says so. Bad input writes nothing.
"""

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import JSON, bindparam, func, text

from app.deals.facts import parse_facts
from app.errors import Invalid
from app.extensions import db
from app.leads.intake import Outcome, wake_intake
from app.leads.service import UTM_KEYS, UTM_LIMIT, lead_values
from app.models import Pipeline, Stage, utcnow
from app.models.leads import LeadForm, LeadFormView, LeadSubmission
from app.statements import dialect_insert
from app.text import clean_int, clean_text, is_text

CONTACT_TARGETS = {
    "email": ("Work email", "email"), "name": ("Your name", "text"), "phone": ("Phone", "tel"),
    "title": ("Job title", "text"), "company": ("Company", "text"), "industry": ("Industry", "text"),
    "company_size": ("Company size", "text"), "country": ("Country", "text"),
    "message": ("How can we help?", "textarea"),
}
FACT_INPUTS = {"text": "text", "long_text": "textarea", "number": "number", "money": "text", "date": "date",
               "checkbox": "checkbox", "choice": "select", "contact": "email", "email": "email", "url": "url"}
MAX_VALUE = 500
MAX_MESSAGE = 5000
MAX_ORIGINS = 20
TOKEN_MAX_AGE = 24 * 3600
HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?")
LIMITS = {"name": 120, "title": 200, "intro": 2000, "consent_text": 2000, "thank_you": 2000, "redirect_url": 500,
          "label": 120}


# ---------------------------------------------------------------- building

def stage_needs(stage: Stage) -> list:
    """Every field a deal created in `stage` must have: earlier stages' criteria and its entry."""
    needs = []
    for earlier in stage.pipeline.open_stages:
        if earlier.position < stage.position:
            needs += earlier.required_fields("entry") + earlier.required_fields("exit")
    needs += stage.required_fields("entry")
    seen = set()
    return [f for f in needs if not (f.key in seen or seen.add(f.key))]


def targets_for(pipeline: Pipeline | None) -> dict:
    """What a form field can fill in: contact fields, plus the pipeline's deal facts."""
    out = {key: label for key, (label, _kind) in CONTACT_TARGETS.items()}
    if pipeline is not None:
        out.update({f"fact:{f.key}": f.label for f in pipeline.active_fields})
    return out


def stage_options(pipeline: Pipeline | None, required_keys: set) -> list:
    """[(stage, missing labels)] of the pipeline's open stages for the builder's stage menu."""
    if pipeline is None:
        return []
    return [(s, [f.label for f in stage_needs(s) if f"fact:{f.key}" not in required_keys])
            for s in pipeline.open_stages]


def _web_address(url: str) -> bool:
    """An http(s) address whose host is a plain host name or address (it goes into a CSP header)."""
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(HOST.fullmatch(parsed.netloc or "")) \
        and not any(c in url for c in " ;,'\"\n\r")


def _origins(text: str, errors: dict) -> str:
    lines = [line.strip().rstrip("/") for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_ORIGINS:
        errors["allowed_origins"] = f"can list at most {MAX_ORIGINS} sites"
    for line in lines:
        if not _web_address(line) or urlparse(line).path or len(line) > 200:
            errors["allowed_origins"] = f"“{line[:60]}” is not a site like https://www.example.com"
            break
    return "\n".join(lines)


def save_form(actor, values: dict, rows: list, form: LeadForm | None = None) -> LeadForm:
    """Create or edit a lead form; `rows` are [{"maps_to", "label", "required"}] in order."""
    errors: dict = {}
    clean = {name: clean_text(values.get(name), name, errors, LIMITS[name])
             for name in ("name", "title", "intro", "consent_text", "thank_you", "redirect_url")}
    if not clean["name"]:
        errors["name"] = "is required"
    url = clean["redirect_url"]
    if url and not _web_address(url):
        errors["redirect_url"] = "must be a full web address like https://example.com/thanks"
    follow_up = clean_int(values.get("follow_up_minutes"), "follow_up_minutes", errors, 0, 10080, 60)
    origins = _origins(values.get("allowed_origins") or "", errors)
    pipeline = stage = None
    pipeline_id = clean_int(values.get("pipeline_id"), "pipeline_id", errors, 1, 2**31 - 1)
    if pipeline_id:
        pipeline = db.session.get(Pipeline, pipeline_id)
        if pipeline is None or pipeline.org_id != actor.org_id or pipeline.archived:
            errors["pipeline_id"] = "is not a pipeline of your organisation"
            pipeline = None
    targets = targets_for(pipeline)
    fields, seen = [], set()
    for row in rows:
        target = row.get("maps_to")
        if target not in targets or target in seen:
            continue
        seen.add(target)
        label = clean_text(row.get("label"), "label", errors, LIMITS["label"]) or targets[target]
        fields.append({"maps_to": target, "label": label, "required": bool(row.get("required")) or target == "email"})
    if "email" not in seen:
        errors["fields"] = "must include the email address (it is how the lead is matched)"
    stage_id = clean_int(values.get("stage_id"), "stage_id", errors, 1, 2**31 - 1)
    if stage_id:
        stage = db.session.get(Stage, stage_id)
        if pipeline is None or stage is None or stage.pipeline_id != pipeline.id or stage.kind != "open" \
                or stage.archived:
            errors["stage_id"] = "is not an open stage of the chosen pipeline"
        else:
            required = {f["maps_to"] for f in fields if f["required"]}
            missing = [f.label for f in stage_needs(stage) if f"fact:{f.key}" not in required]
            if missing:
                errors["stage_id"] = (f"needs {', '.join(missing)} before a deal can start there: add them to the "
                                      "form as required fields, or pick an earlier stage")
    elif pipeline is not None:
        stage = pipeline.open_stages[0] if pipeline.open_stages else None
        required = {f["maps_to"] for f in fields if f["required"]}
        if stage is not None and any(f"fact:{f.key}" not in required for f in stage_needs(stage)):
            errors["stage_id"] = "pick a stage whose requirements the form's fields cover"
    if errors:
        db.session.rollback()
        raise Invalid(errors)
    if form is None:
        form = LeadForm(org_id=actor.org_id, key=secrets.token_urlsafe(9))
        db.session.add(form)
    for name, value in clean.items():
        setattr(form, name, value)
    if not form.thank_you:
        form.thank_you = "Thank you. We will be in touch shortly."
    form.fields = fields
    form.follow_up_minutes = follow_up
    form.allowed_origins = origins
    form.high_intent = bool(values.get("high_intent"))
    form.active = bool(values.get("active", True))
    form.pipeline_id = pipeline.id if pipeline else None
    form.stage_id = stage.id if stage else None
    db.session.commit()
    return form


@dataclass(frozen=True)
class _Draft:
    """An unsaved form as input_for reads one: its pipeline (for deal facts' inputs) only."""

    pipeline: Pipeline | None


def _shown(value, limit: int) -> str:
    """Builder text as the preview shows it: trimmed, cut at the field's limit, '' when not text."""
    text_value = str(value or "").strip()[:limit]
    return text_value if is_text(text_value) else ""


def preview(org_id: int, values, rows: list) -> dict:
    """What a visitor would see of a form built from the builder's unsaved values (nothing is written).

    The rows are read as save_form reads them (known targets, each once, email always required),
    so the preview shows the form the Save would store: {"title", "intro", "consent_text", "inputs"}.
    """
    pipeline = None
    pipeline_id = str(values.get("pipeline_id") or "")
    if pipeline_id.isdigit() and 0 < int(pipeline_id) < 2**31:
        pipeline = db.session.get(Pipeline, int(pipeline_id))
        if pipeline is None or pipeline.org_id != org_id or pipeline.archived:
            pipeline = None
    targets, draft, seen, inputs = targets_for(pipeline), _Draft(pipeline), set(), []
    for row in rows:
        target = row.get("maps_to")
        if target not in targets or target in seen:
            continue
        seen.add(target)
        spec = {"maps_to": target, "label": _shown(row.get("label"), LIMITS["label"]) or targets[target],
                "required": bool(row.get("required")) or target == "email"}
        inputs.append(input_for(draft, spec))
    return {"title": _shown(values.get("title"), LIMITS["title"]) or _shown(values.get("name"), LIMITS["name"]),
            "intro": _shown(values.get("intro"), LIMITS["intro"]),
            "consent_text": _shown(values.get("consent_text"), LIMITS["consent_text"]), "inputs": inputs}


def input_for(form: LeadForm, spec: dict) -> dict:
    """How a form field renders: its input name, type, label, and choices."""
    target = spec["maps_to"]
    name = "f_" + target.replace(":", "_")
    if target in CONTACT_TARGETS:
        return {"name": name, "type": CONTACT_TARGETS[target][1], "label": spec["label"],
                "required": spec["required"], "choices": None, "target": target}
    fact = _fact_field(form, target)
    kind = FACT_INPUTS.get(fact.type, "text") if fact else "text"
    return {"name": name, "type": kind, "label": spec["label"], "required": spec["required"],
            "choices": list(fact.choices or []) if fact is not None and fact.type == "choice" else None,
            "target": target}


def _fact_field(form: LeadForm, target: str):
    if form.pipeline is None or not target.startswith("fact:"):
        return None
    key = target[5:]
    return next((f for f in form.pipeline.active_fields if f.key == key), None)


def form_inputs(form: LeadForm) -> list:
    return [input_for(form, spec) for spec in form.fields or []]


# ---------------------------------------------------------------- spam defences

def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="lead-form")


@dataclass(frozen=True)
class PageToken:
    """A page token that checked out: its one-use nonce and when the person first saw the form."""

    nonce: str
    first_view_ms: int
    age: float  # seconds since the first view


def issue_token(secret: str, form: LeadForm, nonce: str | None = None, first_view_ms: int | None = None) -> str:
    """A signed token with the form, a one-use nonce and the time of the form's first view.

    A page sent again after an error passes the token's nonce and first view on, so the
    minimum time keeps counting from the first view and the nonce stays the one to use.
    """
    return _serializer(secret).dumps({"f": form.id, "n": nonce or secrets.token_urlsafe(12),
                                      "v": first_view_ms or int(time.time() * 1000)})


def read_token(secret: str, form: LeadForm, token: str) -> tuple[PageToken | None, str]:
    """Return (the token, "") or (None, why it is no proof: "missing", "expired" or "invalid")."""
    if not token:
        return None, "missing"
    if len(token) > 300:
        return None, "invalid"
    try:
        data, issued = _serializer(secret).loads(token, max_age=TOKEN_MAX_AGE, return_timestamp=True)
    except SignatureExpired:
        return None, "expired"
    except (BadSignature, ValueError, TypeError):
        return None, "invalid"
    if not isinstance(data, dict) or data.get("f") != form.id or not isinstance(data.get("n"), str):
        return None, "invalid"
    first_view = data.get("v")
    if not isinstance(first_view, int) or isinstance(first_view, bool):  # a token from before first views
        first_view = int(issued.timestamp() * 1000)
    return PageToken(data["n"], first_view, time.time() - first_view / 1000), ""


def origin_allowed(form: LeadForm, origin: str) -> bool:
    return origin.rstrip("/") in {o for o in (form.allowed_origins or "").splitlines() if o}


def form_counts(org_id: int) -> tuple[dict, dict]:
    """({form id: views}, {form id: submissions taken, held ones not counted}) for the organisation's forms."""
    views = dict(db.session.query(LeadFormView.form_id, func.count()).filter(LeadFormView.org_id == org_id)
                 .group_by(LeadFormView.form_id))
    taken = dict(db.session.query(LeadSubmission.form_id, func.count())
                 .filter(LeadSubmission.org_id == org_id, LeadSubmission.status == "received")
                 .group_by(LeadSubmission.form_id))
    return views, taken


def count_view(form: LeadForm, visitor: str, day: date) -> None:
    """Count a view of the form: one per visitor per day (the unique key drops repeats)."""
    db.session.execute(dialect_insert(LeadFormView.__table__).values(
        org_id=form.org_id, form_id=form.id, visitor=visitor[:64], day=day,
    ).on_conflict_do_nothing(index_elements=["form_id", "visitor", "day"]))
    db.session.commit()


# ---------------------------------------------------------------- submitting

def submission_values(form: LeadForm, data: dict) -> tuple[dict, dict, str]:
    """Validate a submission against the form; return (lead values, deal facts, message) or raise Invalid."""
    errors: dict = {}
    values: dict = {}
    facts: dict = {}
    message = ""
    for spec in form_inputs(form):
        raw = data.get(spec["name"])
        raw = raw if isinstance(raw, str) else ""
        limit = MAX_MESSAGE if spec["type"] == "textarea" else MAX_VALUE
        text = clean_text(raw, spec["name"], errors, limit)
        if spec["name"] in errors:
            continue
        if spec["required"] and not text:
            errors[spec["name"]] = "is required"
            continue
        target = spec["target"]
        if target == "message":
            message = text
        elif target.startswith("fact:"):
            if text:
                facts[target[5:]] = text
        else:
            values[target] = text
    if form.consent_text and data.get("consent") not in ("1", "on", "yes"):
        errors["consent"] = "is needed before we can contact you"
    try:
        lead = lead_values(values)
    except Invalid as exc:
        lead = {}
        for name, text in exc.fields.items():
            errors["f_" + name] = text
    if facts and form.pipeline is not None:
        by_key = {f.key: f for f in form.pipeline.active_fields}
        _clean, fact_errors = parse_facts(by_key, facts)
        for key, text in fact_errors.items():
            errors["f_fact_" + key] = text
    if errors:
        raise Invalid(errors, "Please check the highlighted fields.")
    return lead, facts, message


def clean_utm_params(params: dict) -> dict:
    """The utm_* parameters that are text, trimmed to their limit (others are left out)."""
    out = {}
    for key in UTM_KEYS:
        value = params.get(f"utm_{key}")
        if isinstance(value, str) and value.strip() and is_text(value):
            out[key] = value.strip()[:UTM_LIMIT]
    return out


# The request's one write, as plain SQL both engines speak: SQLAlchemy compiles a dialect insert
# with ON CONFLICT afresh on every call (it has no cache key), a third of a submission's CPU.
STORE_SUBMISSION = text(
    "INSERT INTO lead_submission (org_id, form_id, nonce, created_new, utm, referrer, payload, created_at, status, "
    "held_reason) VALUES (:org_id, :form_id, :nonce, false, :utm, :referrer, :payload, :created_at, :status, "
    ":held_reason) ON CONFLICT (form_id, nonce) DO NOTHING RETURNING id"
).bindparams(bindparam("utm", type_=JSON), bindparam("payload", type_=JSON))
STORED_PAYLOAD = text("SELECT payload FROM lead_submission WHERE form_id = :form_id AND nonce = :nonce"
                      ).columns(payload=JSON)
REUSED = "Its page token had already been used for different answers."


def _held_nonce(payload: dict) -> str:
    """A held post has no nonce of its own: the same answers held again the same day are one row."""
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False) + str(utcnow().date())
    return "h" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def submit(form: LeadForm, data: dict, *, nonce: str, utm: dict, referrer: str = "", held: str = "") -> Outcome:
    """Store one valid submission (once per nonce) and queue its processing; raise Invalid, writing nothing.

    The request only validates and stores; `process_submission` (the worker, or the sweep)
    turns it into the lead. A submission without its proofs comes with `held` (why): it is
    stored for review and never processed. The same nonce again with the same answers (a
    double click) is Outcome(None, replay=True); with other answers, it is held.
    """
    lead, facts, message = submission_values(form, data)
    lead["source"] = lead.get("source") or f"Form: {form.name}"[:80]
    lead["utm"] = utm
    answers = "; ".join(f"{spec['label']}: {data.get(spec['name'], '')}"[:200] for spec in form_inputs(form)
                        if spec["target"] != "email" and data.get(spec["name"]))
    payload = {"lead": lead, "facts": facts, "message": message, "answers": answers}
    row = {"org_id": form.org_id, "form_id": form.id, "nonce": nonce[:40], "utm": utm, "referrer": referrer[:500],
           "payload": payload, "created_at": utcnow(), "status": "received", "held_reason": ""}
    if held or not nonce:
        row.update(status="held", held_reason=(held or "It came without the form's page token.")[:200], nonce=_held_nonce(payload))
    submission_id = db.session.execute(STORE_SUBMISSION, row).scalar()
    if submission_id is None and row["status"] == "received":  # the nonce was used: rare, so read it here
        stored = db.session.execute(STORED_PAYLOAD, {"form_id": form.id, "nonce": row["nonce"]}).scalar()
        if stored != payload:
            row.update(status="held", held_reason=REUSED, nonce=_held_nonce(payload))
            submission_id = db.session.execute(STORE_SUBMISSION, row).scalar()
    if submission_id is None:
        db.session.rollback()
        return Outcome(None, replay=True)
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False  # the thank-you page reads the
    try:  # form as loaded: nothing here changed it, so no re-read after the commit
        session.commit()
    finally:
        session.expire_on_commit = expire
    if row["status"] == "received":
        wake_intake()
    return Outcome(None)


def embed_height(form: LeadForm) -> int:
    """A frame height (px) that fits the form on a phone without its own scroll bar, roughly."""
    inputs = form_inputs(form)
    height = 260 + (90 if form.intro else 0) + (70 if form.consent_text else 0)
    height += sum(150 if i["type"] == "textarea" else 50 if i["type"] == "checkbox" else 95 for i in inputs)
    return min(height, 2400)


def embed_snippet(form: LeadForm, base_url: str) -> str:
    """HTML a site pastes to embed the form: a frame of the hosted page, so every post carries its proofs.

    No script: the frame is the hosted page itself (page token, nonce, honeypot), and the
    form's allowed sites are the only ones whose pages may frame it (CSP frame-ancestors).
    """
    from markupsafe import escape

    title = escape(form.title or form.name)
    return (f'<iframe src="{base_url}/f/{form.key}?embed=1" title="{title}" width="100%" '
            f'height="{embed_height(form)}" style="border:0;max-width:40rem" loading="lazy"></iframe>')
