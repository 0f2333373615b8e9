"""Pipeline shaping: templates, requirement sets, and the rules for editing them."""

import re
from dataclasses import dataclass

from app.errors import Invalid
from app.extensions import db
from app.ids import parse_id
from app.models import (
    CONTACT_ROLES,
    FIELD_TYPES,
    STAGE_KINDS,
    CriteriaChange,
    FieldDef,
    LossReason,
    Pipeline,
    Stage,
    StageRequirement,
    utcnow,
)
from app.pipelines.catalog import LOSS_REASONS, REQUIREMENT_SETS, TEMPLATES
from app.pipelines.changes import latest_change_at, record_change, snapshot
from app.pipelines.lacking import open_deals_lacking
from app.pipelines.patterns import PatternError, compile_pattern
from app.playbooks.starter import seed_playbook
from app.text import clean_text, is_blank


def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def slug_key(label: str) -> str:
    """Turn a label into a field key: lowercase words joined by underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return (key or "field")[:64]


def _add_field(pipeline: Pipeline, key, label, type_, options, position) -> FieldDef:
    field = FieldDef(
        org_id=pipeline.org_id, pipeline=pipeline, key=key, label=label, type=type_,
        position=position, **options,
    )
    db.session.add(field)
    return field


def _require(stage: Stage, field: FieldDef, when: str, buyer: bool = False) -> None:
    if not any(r.field is field and r.when == when for r in stage.requirements):
        stage.requirements.append(StageRequirement(org_id=stage.org_id, field=field, when=when, buyer=buyer))


def create_from_template(org, template_key: str, name: str | None = None, buyer_confirms: bool = False) -> Pipeline:
    """Create a pipeline with its stages, fields and criteria from a catalogue template.

    `buyer_confirms` marks the template's "buyer" requirements as met only by the buyer's confirmation
    in the deal room; without it every requirement is met by a rep's typed fact, as before rooms.
    Sign-up, the CLI, the admin's "new pipeline" and the demo seed ask for the marks. It is off by
    default because hundreds of tests (and scripts) build deals by typing every fact as a rep, which a
    buyer requirement no longer accepts; tests of the room turn it on (tests/factories.make_org).
    """
    spec = TEMPLATES.get(template_key)
    if spec is None:
        raise Invalid({"template": "is not a template"}, f"Unknown template {template_key!r}.")
    position = (db.session.query(db.func.max(Pipeline.position)).filter_by(org_id=org.id).scalar() or 0) + 1
    pipeline = Pipeline(org_id=org.id, name=name or spec["name"], allow_skip=spec["allow_skip"],
                        position=position)
    db.session.add(pipeline)
    fields = {}
    buyer = set(spec.get("buyer", ())) if buyer_confirms else set()
    for i, (key, label, type_, options) in enumerate(spec["fields"], start=1):
        fields[key] = _add_field(pipeline, key, label, type_, options, i)
    pos = 0
    for pos, (stage_name, buyer_state, prob, entry, exit_, guidance) in enumerate(spec["stages"], start=1):
        stage = Stage(org_id=org.id, pipeline=pipeline, name=stage_name, buyer_state=buyer_state,
                      probability=prob, position=pos, guidance=guidance,
                      is_meeting=stage_name == spec["meeting"])
        db.session.add(stage)
        for key in entry:
            _require(stage, fields[key], "entry", key in buyer)
        for key in exit_:
            _require(stage, fields[key], "exit", key in buyer)
    won_name, won_entry, won_exit = spec["won"]
    won = Stage(org_id=org.id, pipeline=pipeline, name=won_name, kind="won", probability=100,
                position=pos + 1, buyer_state="Contract signed; onboarding has the context",
                guidance="Hand off to onboarding with a warm introduction and documented context.")
    db.session.add(won)
    for key in won_entry:
        _require(won, fields[key], "entry", key in buyer)
    for key in won_exit:
        _require(won, fields[key], "exit", key in buyer)
    db.session.add(Stage(org_id=org.id, pipeline=pipeline, name=spec["lost"], kind="lost",
                         probability=0, position=pos + 2, buyer_state="Buyer decided not to buy",
                         guidance="Record the real reason: it feeds the loss report."))
    seed_playbook(pipeline, template_key)  # the template's discovery sheets, objection guide and hand-off
    ensure_loss_reasons(org)
    db.session.commit()
    return pipeline


def ensure_loss_reasons(org) -> None:
    """Give an organisation the default loss reasons if it has none."""
    if LossReason.query.filter_by(org_id=org.id).first() is None:
        for i, label in enumerate(LOSS_REASONS, start=1):
            db.session.add(LossReason(org_id=org.id, label=label, position=i))


def apply_requirement_set(stage: Stage, set_key: str, when: str = "exit", actor=None) -> list[FieldDef]:
    """Require a BANT/MEDDIC set on a stage, creating the pipeline's missing fields (a logged change)."""
    spec = REQUIREMENT_SETS.get(set_key)
    if spec is None:
        raise Invalid({"set": "is not a requirement set"}, f"Unknown requirement set {set_key!r}.")
    if when not in ("entry", "exit"):
        raise Invalid({"when": "must be entry or exit"}, "Choose entry or exit.")
    pipeline = stage.pipeline
    before = snapshot(stage)
    existing = {f.key: f for f in pipeline.fields}
    position = max((f.position for f in pipeline.fields), default=0)
    applied = []
    for key, label, type_, options in spec["fields"]:
        field = existing.get(key)
        if field is None:
            position += 1
            field = _add_field(pipeline, key, label, type_, options, position)
        elif field.archived:
            field.archived = False
        _require(stage, field, when)
        applied.append(field)
    record_change(stage, before, actor, "set")
    db.session.commit()
    return applied


# --- Editing pipelines, stages, fields, criteria and loss reasons (admin) ---

MAX_GUIDANCE = 5000
MAX_CHOICES = 50
MAX_MAGNITUDE = 10**13
PATTERN_TYPES = ("text", "long_text")
BOUND_TYPES = ("number", "money")
_KIND_RANK = {"open": 0, "won": 1, "lost": 2}




def _clean_int(value, name: str, low: int, high: int, errors: dict, default=None):
    if value is None or value == "":
        if default is not None:
            return default
        errors[name] = "is required"
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors[name] = "must be a whole number"
        return None
    if not low <= number <= high:
        errors[name] = f"must be between {low} and {high}"
        return None
    return number


def _fail(errors: dict, message: str = "Please correct the highlighted fields.") -> None:
    if errors:
        db.session.rollback()
        raise Invalid(errors, message)


def _next_position(model, **filters) -> int:
    return (db.session.query(db.func.max(model.position)).filter_by(**filters).scalar() or 0) + 1


def org_pipelines(org_id: int) -> list[Pipeline]:
    """Return an organisation's pipelines in their display order."""
    return Pipeline.query.filter_by(org_id=org_id).order_by(Pipeline.position, Pipeline.id).all()


def create_pipeline(org, name) -> Pipeline:
    """Create a blank pipeline with one open stage and its Won and Lost stages."""
    errors: dict = {}
    name = clean_text(name, "name", errors, 120, required=True)
    _fail(errors)
    pipeline = Pipeline(org_id=org.id, name=name, position=_next_position(Pipeline, org_id=org.id))
    db.session.add(pipeline)
    for pos, (stage_name, kind, prob) in enumerate(
        [("New", "open", 10), ("Won", "won", 100), ("Lost", "lost", 0)], start=1
    ):
        db.session.add(Stage(org_id=org.id, pipeline=pipeline, name=stage_name, kind=kind,
                             probability=prob, position=pos))
    ensure_loss_reasons(org)
    db.session.commit()
    return pipeline


def update_pipeline(pipeline: Pipeline, name, allow_skip: bool, handoff_user_id=None) -> Pipeline:
    """Rename a pipeline, set whether deals may skip stages, and who gets the hand-off."""
    from app.models import User

    errors: dict = {}
    name = clean_text(name, "name", errors, 120, required=True)
    handoff = None
    if handoff_user_id not in (None, "", 0):
        handoff_id = parse_id(handoff_user_id)
        handoff = db.session.get(User, handoff_id) if handoff_id else None
        if handoff is None or handoff.org_id != pipeline.org_id or not handoff.active:
            errors["handoff_user_id"] = "must be an active user of your organisation"
    _fail(errors)
    pipeline.name = name
    pipeline.allow_skip = bool(allow_skip)
    pipeline.handoff_user_id = handoff.id if handoff else None
    db.session.commit()
    return pipeline


def move_pipeline(pipeline: Pipeline, direction: str) -> None:
    """Move a pipeline one place up or down in the organisation's list."""
    _swap(org_pipelines(pipeline.org_id), pipeline, direction)
    db.session.commit()


def set_pipeline_archived(pipeline: Pipeline, archived: bool) -> None:
    """Archive (hide from the board) or restore a pipeline."""
    pipeline.archived = bool(archived)
    db.session.commit()


def _swap(items: list, item, direction: str) -> None:
    if direction not in ("up", "down"):
        raise Invalid({"direction": "must be up or down"}, "Choose up or down.")
    i = items.index(item)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(items):
        items[i], items[j] = items[j], items[i]
    for pos, obj in enumerate(items, start=1):
        obj.position = pos


def _ordered_stages(pipeline: Pipeline) -> list[Stage]:
    return sorted(pipeline.stages, key=lambda s: (_KIND_RANK.get(s.kind, 0), s.position, s.id or 0))


def _renumber_stages(pipeline: Pipeline) -> None:
    """Keep open stages first and Won/Lost after them, numbered 1..n."""
    for pos, stage in enumerate(_ordered_stages(pipeline), start=1):
        stage.position = pos


def save_stage(pipeline: Pipeline, data: dict, stage: Stage | None = None, actor=None) -> Stage:
    """Add a stage to `pipeline` or edit `stage`; one meeting stage per pipeline (guidance edits are logged)."""
    errors: dict = {}
    name = clean_text(data.get("name"), "name", errors, 80, required=True)
    buyer_state = clean_text(data.get("buyer_state"), "buyer_state", errors, 200)
    guidance = clean_text(data.get("guidance"), "guidance", errors, MAX_GUIDANCE)
    kind = data.get("kind") or "open"
    if kind not in STAGE_KINDS:
        errors["kind"] = "must be open, won or lost"
    probability = _clean_int(data.get("probability"), "probability", 0, 100, errors, default=0)
    max_days = _clean_int(data.get("max_days"), "max_days", 1, 3650, errors, default=7)
    is_meeting = bool(data.get("is_meeting"))
    if is_meeting and kind != "open":
        errors["is_meeting"] = "Only an open stage can be the meeting stage."
    if stage is not None and kind in STAGE_KINDS and kind != stage.kind:
        held = deals_in_stage(stage)
        if held:  # its deals would keep the old status in a stage of another kind, with no move to fix them
            are, them = _deals(held)
            errors["kind"] = f"{are} in {stage.name}; move {them} to another stage before changing its kind."
    taken = [s for s in pipeline.stages if s is not stage and s.name.lower() == name.lower()]
    if name and taken:
        errors["name"] = "Another stage of this pipeline already has this name."
    _fail(errors)
    before = snapshot(stage) if stage is not None else EMPTY_CRITERIA
    if stage is None:
        stage = Stage(org_id=pipeline.org_id, pipeline=pipeline, position=10**6)
        db.session.add(stage)
    stage.name, stage.buyer_state, stage.guidance = name, buyer_state, guidance
    stage.kind, stage.probability, stage.max_days = kind, probability, max_days
    if is_meeting:
        for other in pipeline.stages:
            if other is not stage:
                other.is_meeting = False
    stage.is_meeting = is_meeting
    if kind == "lost":
        stage.requirements.clear()  # the gate asks a loss reason on Lost, never facts
        stage.needs_next_step = False
    _renumber_stages(pipeline)
    record_change(stage, before, actor, "stage")
    db.session.commit()
    return stage


EMPTY_CRITERIA = {"entry": [], "exit": [], "buyer": [], "next_step": False, "guidance": ""}


def move_stage(stage: Stage, direction: str) -> None:
    """Move a stage up or down among the open stages (or among Won/Lost)."""
    closed = stage.kind != "open"
    ordered = _ordered_stages(stage.pipeline)
    group = [s for s in ordered if (s.kind != "open") == closed]
    _swap(group, stage, direction)
    _renumber_stages(stage.pipeline)
    db.session.commit()


def set_stage_archived(stage: Stage, archived: bool) -> None:
    """Archive or restore a stage; deals already in it keep their history."""
    held = deals_in_stage(stage) if archived else 0
    if held:  # an archived stage is off the board: its deals would be out of sight
        are, them = _deals(held)
        raise Invalid(message=f"{are} in {stage.name}. Move {them} to another stage before archiving it.")
    if archived:
        _check_not_last(stage, "archiving")
    stage.archived = bool(archived)
    if archived:
        stage.is_meeting = False
    db.session.commit()


def deals_in_stage(stage: Stage) -> int:
    """Count the deals (open, won or lost) that are in `stage` now."""
    from app.models import Deal

    return db.session.query(db.func.count(Deal.id)).filter(Deal.org_id == stage.org_id,
                                                           Deal.stage_id == stage.id).scalar()


def deal_counts(pipeline: Pipeline) -> dict:
    """Return {stage id: number of deals in it now} for a pipeline's stages (one query)."""
    from app.models import Deal

    rows = (db.session.query(Deal.stage_id, db.func.count(Deal.id))
            .filter(Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id).group_by(Deal.stage_id))
    return dict(rows.all())


def _deals(n: int) -> tuple:
    """("1 deal is", "it") or ("3 deals are", "them"), for the messages about a stage's deals."""
    return ("1 deal is", "it") if n == 1 else (f"{n} deals are", "them")


def _check_not_last(stage: Stage, doing: str) -> None:
    same = [s for s in stage.pipeline.active_stages if s.kind == stage.kind]
    if len(same) <= 1:
        what = {"open": "at least one open stage", "won": "a Won stage", "lost": "a Lost stage"}[stage.kind]
        raise Invalid(message=f"A pipeline needs {what}; add another before {doing} {stage.name}.")


def stage_in_use(stage: Stage) -> bool:
    """Tell whether any deal sits in or has passed through `stage`."""
    from app.models import Deal, StageTransition

    if Deal.query.filter_by(stage_id=stage.id).first() is not None:
        return True
    return StageTransition.query.filter(
        db.or_(StageTransition.to_stage_id == stage.id, StageTransition.from_stage_id == stage.id)
    ).first() is not None


def delete_stage(stage: Stage) -> None:
    """Delete an unused stage; a stage that deals use must be archived instead."""
    if stage_in_use(stage):
        raise Invalid(message=f"Deals use {stage.name}, so it cannot be deleted. Archive it instead: "
                      "its history stays and new deals cannot enter it.")
    if not stage.archived:
        _check_not_last(stage, "deleting")
    pipeline = stage.pipeline
    CriteriaChange.query.filter_by(stage_id=stage.id).delete()  # an unused stage's log goes with it
    db.session.delete(stage)
    db.session.flush()
    db.session.expire(pipeline, ["stages"])
    _renumber_stages(pipeline)
    db.session.commit()


def _field_values(field: FieldDef) -> bool:
    """Tell whether any deal of the field's pipeline holds a value for it."""
    from app.models import Deal

    rows = db.session.query(Deal.facts).filter(Deal.pipeline_id == field.pipeline_id)
    return any(not is_blank((facts or {}).get(field.key)) and (facts or {}).get(field.key) is not False
               for (facts,) in rows)


def _clean_bound(value, name: str, errors: dict):
    from decimal import Decimal, InvalidOperation

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        errors[name] = "must be a number"
        return None
    if not number.is_finite() or abs(number) >= MAX_MAGNITUDE:
        errors[name] = "must be a number below 10,000,000,000,000"
        return None
    return number.quantize(Decimal("0.01"))


def _clean_choices(value, errors: dict) -> list[str]:
    items = value.splitlines() if isinstance(value, str) else list(value or [])
    choices: list[str] = []
    for item in items:
        item = str(item).strip()
        if item and item not in choices:
            choices.append(item)
    if not choices:
        errors["choices"] = "List at least one choice, one per line."
    elif len(choices) > MAX_CHOICES:
        errors["choices"] = f"List at most {MAX_CHOICES} choices."
    elif any(len(c) > 100 for c in choices):
        errors["choices"] = "Each choice must be at most 100 characters."
    return choices


def save_field(pipeline: Pipeline, data: dict, field: FieldDef | None = None) -> FieldDef:
    """Add a typed deal field to `pipeline` or edit `field`; its key comes from the label."""
    errors: dict = {}
    label = clean_text(data.get("label"), "label", errors, 120, required=True)
    help_text = clean_text(data.get("help_text"), "help_text", errors, 300)
    type_ = data.get("type") or "text"
    if type_ not in FIELD_TYPES:
        errors["type"] = "Choose one of the listed types."
    choices = _clean_choices(data.get("choices"), errors) if type_ == "choice" else None
    contact_role = data.get("contact_role") or None
    if type_ == "contact" and contact_role not in CONTACT_ROLES:
        errors["contact_role"] = "Choose the contact's role."
    min_value = _clean_bound(data.get("min_value"), "min_value", errors) if type_ in BOUND_TYPES else None
    max_value = _clean_bound(data.get("max_value"), "max_value", errors) if type_ in BOUND_TYPES else None
    if min_value is not None and max_value is not None and min_value > max_value:
        errors["max_value"] = "must be at least the minimum"
    pattern = None
    if type_ in PATTERN_TYPES:
        pattern = clean_text(data.get("pattern"), "pattern", errors, 200) or None
        if pattern and "pattern" not in errors:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                errors["pattern"] = (f"is not a valid regular expression ({exc}). Patterns run on RE2: "
                                     "no lookarounds or backreferences.")
    key = field.key if field is not None else slug_key(label)
    if label and "label" not in errors:
        clash = next((f for f in FieldDef.query.filter_by(pipeline_id=pipeline.id) if f is not field
                      and (f.key == key or slug_key(f.label) == slug_key(label))), None)
        if clash is not None:
            where = " (archived: restore it instead)" if clash.archived else ""
            errors["label"] = f"A field like this already exists: {clash.label}{where}."
    if field is not None and type_ != field.type and "type" not in errors and _field_values(field):
        errors["type"] = "Deals already hold values for this field; add a new field instead."
    _fail(errors)
    if field is None:
        field = FieldDef(org_id=pipeline.org_id, pipeline=pipeline, key=key,
                         position=_next_position(FieldDef, pipeline_id=pipeline.id))
        db.session.add(field)
    field.label, field.help_text, field.type = label, help_text, type_
    field.choices = choices
    field.contact_role = contact_role if type_ == "contact" else None
    field.min_value, field.max_value, field.pattern = min_value, max_value, pattern
    field.future_only = bool(data.get("future_only")) and type_ == "date"
    db.session.commit()
    return field


def set_field_archived(field: FieldDef, archived: bool, actor=None) -> None:
    """Archive a field (no stage requires it any more; values stay) or restore it; the criteria of the
    stages that require it change, and each such change is logged."""
    stages = {r.stage for r in StageRequirement.query.filter_by(field_id=field.id)}
    before = {stage: snapshot(stage) for stage in stages}
    field.archived = bool(archived)
    for stage in sorted(stages, key=lambda s: s.id):
        record_change(stage, before[stage], actor, "field")
    db.session.commit()


def move_field(field: FieldDef, direction: str) -> None:
    """Move a field up or down in its pipeline's list."""
    fields = sorted(field.pipeline.fields, key=lambda f: (f.position, f.id))
    _swap(fields, field, direction)
    db.session.commit()


def delete_field(field: FieldDef) -> None:
    """Delete an unused field; a field that criteria or deals use must be archived instead."""
    users = StageRequirement.query.filter_by(field_id=field.id).all()
    if users:
        stages = ", ".join(sorted({r.stage.name for r in users}))
        raise Invalid(message=f"{field.label} is required by {stages}, so it cannot be deleted. "
                      "Archive it instead: stages stop asking for it and deal values stay.")
    if _field_values(field):
        raise Invalid(message=f"Deals hold values for {field.label}, so it cannot be deleted. "
                      "Archive it instead: the values stay in the deals' history.")
    pipeline = field.pipeline
    db.session.delete(field)
    db.session.flush()
    db.session.expire(pipeline, ["fields"])
    db.session.commit()


def _clean_ids(values, allowed: dict, name: str, errors: dict) -> set[int]:
    ids = set()
    for value in values or []:
        text = str(value).strip()
        if not text.isdigit() or int(text) not in allowed:
            errors[name] = "lists a field that is not in this pipeline"
            continue
        ids.add(int(text))
    return ids


@dataclass(frozen=True)
class SavedCriteria:
    stage: Stage
    added: list  # the fields the stage now requires to leave it and did not before
    lacking: int  # open deals in the stage without at least one of them
    change: CriteriaChange | None = None  # the logged change (None when the save changed nothing)


BUYER_TYPES = ("checkbox", "date", "choice", "contact", "email", "text", "long_text")  # as deals.service says


def _buyer_errors(buyer: set, wanted: dict, allowed: dict, errors: dict) -> None:
    for field_id in buyer:
        if field_id not in wanted["entry"] | wanted["exit"]:
            errors["buyer"] = "a fact the buyer confirms must also be required to enter or to leave"
        elif allowed[field_id].type not in BUYER_TYPES:
            errors["buyer"] = (f"{allowed[field_id].label} is a {allowed[field_id].type} field: a buyer's tick "
                               "cannot fill it (numbers, money and links are the rep's to write)")


def save_requirements(stage: Stage, entry_ids, exit_ids, buyer_ids=None, actor=None, next_step=None,
                      source: str = "editor", at=None, always: bool = False) -> SavedCriteria:
    """Set which of the pipeline's active fields `stage` requires on entry and on exit, and (`buyer_ids`,
    None to leave them as they are) which of those only the buyer's confirmation in the deal room meets;
    `next_step` (None: as it is) whether a deal stays in it only with a next step dated today or later.

    Every change is logged with `actor` (app/pipelines/changes.py); `at` (past only) dates one brought
    over from elsewhere, and `always` logs even a save that changes nothing (the API's PUT).
    Say which fields it newly requires to leave and how many open deals in the stage lack one
    of them: the deals its next move will stop (the deals already in it are past its entry).
    """
    errors: dict = {}
    if at is not None:
        latest = latest_change_at(stage)
        if at > utcnow():
            errors["at"] = "must be in the past"
        elif latest is not None and at < latest:
            errors["at"] = f"must not be before the stage's latest recorded change ({latest.isoformat()}Z)"
    allowed = {f.id: f for f in stage.pipeline.active_fields}
    wanted = {"entry": _clean_ids(entry_ids, allowed, "entry", errors),
              "exit": _clean_ids(exit_ids, allowed, "exit", errors)}
    if stage.kind == "lost" and (wanted["entry"] or wanted["exit"]):
        errors["entry"] = "a Lost stage takes no facts; the gate asks for a loss reason instead"
    buyer = None if buyer_ids is None else _clean_ids(buyer_ids, allowed, "buyer", errors)
    if buyer is not None:
        _buyer_errors(buyer, wanted, allowed, errors)
    if next_step and stage.kind != "open":
        errors["next_step"] = "only an open stage can ask for a dated next step"
    _fail(errors, "Nothing was saved: " + "; ".join(errors.values()) if errors else "")
    logged = snapshot(stage)
    before = {r.field_id for r in stage.requirements if r.when == "exit"}
    before_buyer = {r.field_id for r in stage.requirements if r.when == "exit" and r.buyer}
    for req in list(stage.requirements):
        if req.field_id in allowed and req.field_id not in wanted[req.when]:
            stage.requirements.remove(req)
    for when, ids in wanted.items():
        for field_id in ids:
            _require(stage, allowed[field_id], when)
    if buyer is not None:
        for req in stage.requirements:
            if req.field_id in allowed:
                req.buyer = req.field_id in buyer
    if next_step is not None:
        stage.needs_next_step = bool(next_step)
    change = record_change(stage, logged, actor, source, at=at, always=always)
    db.session.commit()
    # Newly asked of the deals in the stage: a fact newly required to leave, or one newly marked the buyer's
    # to confirm (what the rep typed for it no longer counts).
    newly_buyer = (buyer or set()) - before_buyer
    added = [f for f in stage.pipeline.active_fields
             if f.id in wanted["exit"] and (f.id not in before or f.id in newly_buyer)]
    return SavedCriteria(stage, added, open_deals_lacking(stage, added), change)


def set_requirements_by_key(stage: Stage, entry, exit_, buyer=None, next_step=None, actor=None,
                            at=None) -> SavedCriteria:
    """Set a stage's criteria from field keys (the API's words) and log the change, even an unchanged one.

    Every key must be an active field of the stage's pipeline; `at`, when given, is in the past and
    not before the stage's latest recorded change (a change brought over from elsewhere).
    """
    errors: dict = {}
    by_key = {f.key: f.id for f in stage.pipeline.active_fields}

    def ids(values, name):
        if values is None:
            return None
        if not isinstance(values, list) or len(values) > 500:
            errors[name] = "must be a list of field keys"
            return []
        unknown = [v for v in values if not isinstance(v, str) or v not in by_key]
        if unknown:
            shown = ", ".join(repr(v)[:66] for v in unknown[:5])
            errors[name] = f"lists keys that are not active fields of this pipeline: {shown}"
        return [by_key[v] for v in values if isinstance(v, str) and v in by_key]

    entry_ids, exit_ids = ids(entry, "entry"), ids(exit_, "exit")
    buyer_ids = ids(buyer, "buyer")
    if entry is None:
        errors["entry"] = "is required (a list of field keys; [] for none)"
    if exit_ is None:
        errors["exit"] = "is required (a list of field keys; [] for none)"
    if next_step is not None and not isinstance(next_step, bool):
        errors["next_step"] = "must be true or false"
    _fail(errors)
    return save_requirements(stage, entry_ids, exit_ids, buyer_ids, actor=actor, next_step=next_step,
                             source="api", at=at, always=True)


def apply_set_to_stage(stage: Stage, set_key: str, when: str, actor=None) -> list[FieldDef]:
    """Apply BANT/MEDDIC to a stage, refusing Lost stages (they take no facts)."""
    if stage.kind == "lost":
        raise Invalid(message="A Lost stage takes no facts; the gate asks for a loss reason instead.")
    return apply_requirement_set(stage, set_key, when, actor)


def add_loss_reason(org, label) -> LossReason:
    """Add a loss reason reps can pick when a deal is lost."""
    errors: dict = {}
    label = clean_text(label, "label", errors, 120, required=True)
    if label and LossReason.query.filter(LossReason.org_id == org.id,
                                         db.func.lower(LossReason.label) == label.lower()).first():
        errors["label"] = "This reason already exists."
    _fail(errors)
    reason = LossReason(org_id=org.id, label=label, position=_next_position(LossReason, org_id=org.id))
    db.session.add(reason)
    db.session.commit()
    return reason


def rename_loss_reason(reason: LossReason, label) -> LossReason:
    """Rename a loss reason; deals lost for it show the new name."""
    errors: dict = {}
    label = clean_text(label, "label", errors, 120, required=True)
    if label and LossReason.query.filter(LossReason.org_id == reason.org_id, LossReason.id != reason.id,
                                         db.func.lower(LossReason.label) == label.lower()).first():
        errors["label"] = "Another reason already has this name."
    _fail(errors)
    reason.label = label
    db.session.commit()
    return reason


def set_loss_reason_archived(reason: LossReason, archived: bool) -> None:
    """Archive (no longer offered) or restore a loss reason."""
    reason.archived = bool(archived)
    db.session.commit()
