"""Playbooks in the flow: the discovery call sheet, the objection guide, demo prep and the hand-off.

Facts go through the deals service like every fact (`update_deal`, provenance "typed by" the rep).
This module's own rows (answers, the objections picked, the timeline note) are added to the session
before that call, so the deals service's commit takes them with the facts and its rollback on a
refusal drops them: nothing is half written.
"""

from dataclasses import dataclass, field

from app.contacts.service import deal_contacts, timeline
from app.deals.provenance import describe
from app.deals.service import can_edit, update_deal
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import (
    PROMPT_KINDS,
    Activity,
    DealObjection,
    DiscoveryAnswer,
    DiscoveryPrompt,
    Objection,
    Playbook,
    Stage,
    Task,
)
from app.models.playbooks import MAX_RESPONSES
from app.text import clean_int, clean_text

MAX_ANSWER = 5000
MAX_PROMPT = 500
MAX_PROMPTS = 30  # a call sheet longer than this is not read on a call
MAX_OBJECTION = 300
MAX_RESPONSE = 1000
MAX_OBJECTIONS = 20
MAX_INTRO = 5000
FACT_TYPES = ("text", "long_text")  # what the objection picker can write its summary into


# --- Reading -----------------------------------------------------------------------------------

def playbook_of(pipeline) -> Playbook:
    """The pipeline's playbook settings; an unsaved empty one when it has none yet."""
    found = Playbook.query.filter_by(org_id=pipeline.org_id, pipeline_id=pipeline.id).first()
    return found or Playbook(org_id=pipeline.org_id, pipeline_id=pipeline.id, demo_keys=[], handoff_intro="")


def buyer_only_keys(pipeline) -> set:
    """Keys of the facts some stage of the pipeline requires the buyer to confirm: an answer never writes them."""
    return set().union(*(s.buyer_keys(w) for s in pipeline.active_stages for w in ("entry", "exit")))


def stage_prompts(stage) -> list:
    return (DiscoveryPrompt.query.filter_by(org_id=stage.org_id, stage_id=stage.id)
            .order_by(DiscoveryPrompt.position, DiscoveryPrompt.id).all())


def prompts_by_stage(pipeline) -> dict:
    """{stage_id: [prompts]} for the pipeline's stages, one statement."""
    ids = [s.id for s in pipeline.stages]
    rows = (DiscoveryPrompt.query.filter(DiscoveryPrompt.org_id == pipeline.org_id,
                                         DiscoveryPrompt.stage_id.in_(ids or [-1]))
            .order_by(DiscoveryPrompt.position, DiscoveryPrompt.id).all())
    grouped = {i: [] for i in ids}
    for p in rows:
        grouped[p.stage_id].append(p)
    return grouped


def sheet_stage(deal, stage_id=None):
    """The stage whose call sheet to show: the one asked for, else the deal's own if it has one, else the
    first stage with a sheet, else the deal's own."""
    grouped = prompts_by_stage(deal.pipeline)
    stages = {s.id: s for s in deal.pipeline.active_stages}
    if stage_id in stages:
        return stages[stage_id], grouped
    if grouped.get(deal.stage_id):
        return deal.stage, grouped
    first = next((s for s in deal.pipeline.active_stages if grouped.get(s.id)), None)
    return first or deal.stage, grouped


def guide(pipeline) -> list:
    return (Objection.query.filter_by(org_id=pipeline.org_id, pipeline_id=pipeline.id, archived=False)
            .order_by(Objection.position, Objection.id).all())


def deal_objections(deal) -> dict:
    """{objection_id: DealObjection} of the deal."""
    return {o.objection_id: o for o in DealObjection.query.filter_by(org_id=deal.org_id, deal_id=deal.id)}


def guide_for_missing(deal, missing) -> list:
    """The objection guide when a refused move asks for the playbook's objections fact; else []."""
    keys = {r.field.key for r in missing or () if getattr(r.field, "type", None) in FACT_TYPES}
    if not keys:
        return []
    book = playbook_of(deal.pipeline)
    return guide(deal.pipeline) if book.objections_key in keys else []


# --- The discovery call sheet ------------------------------------------------------------------

@dataclass
class SavedAnswers:
    facts: list = field(default_factory=list)  # labels of the facts written
    notes: int = 0  # answers kept on the timeline note
    buyer: list = field(default_factory=list)  # labels only the buyer confirms: kept as a note instead

    def message(self) -> str:
        parts = []
        if self.facts:
            parts.append(f"Saved as facts: {', '.join(self.facts)}.")
        if self.notes:
            parts.append(f"{self.notes} answer{'s' if self.notes != 1 else ''} added to the timeline as a note.")
        if self.buyer:
            parts.append(f"Only the buyer can confirm {', '.join(self.buyer)} (in the deal room): "
                         "your answer is in the note, not the fact.")
        return " ".join(parts) or "Nothing to save: every answer was blank."


def save_answers(deal, stage, actor, answers: dict, version) -> SavedAnswers:
    """Save a call's answers: a mapped answer becomes its fact (typed by the rep), the rest one timeline note.

    `answers` is {prompt_id: text}. A fact only the buyer confirms is never written from an answer: it
    goes in the note, and the result says so. Raise Invalid naming each bad answer as "answer-<id>",
    Forbidden for someone who cannot edit the deal, Conflict for a stale `version`.
    """
    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can save answers on it.")
    if stage.org_id != deal.org_id or stage.pipeline_id != deal.pipeline_id:
        raise Invalid({"stage": "is not a stage of this deal's pipeline"})
    prompts = {p.id: p for p in stage_prompts(stage) if p.kind != "silence"}
    errors, typed = {}, []
    for prompt_id, raw in answers.items():
        prompt = prompts.get(prompt_id)
        if prompt is None:
            errors[f"answer-{prompt_id}"] = "is not a question of this call sheet"
            continue
        text = clean_text(raw, f"answer-{prompt_id}", errors, MAX_ANSWER)
        if text:
            typed.append((prompt, text))
    if errors:
        raise Invalid(errors, "Some answers could not be saved: see the messages beside them.")
    fields = {f.key: f for f in deal.pipeline.active_fields}
    buyer = buyer_only_keys(deal.pipeline)
    result, facts, note, by_key = SavedAnswers(), {}, [], {}
    for prompt, text in typed:
        f = fields.get(prompt.field_key or "")
        saved_as = "note"
        if f is not None and f.key in buyer:
            saved_as = "buyer"
            result.buyer.append(f.label)
        elif f is not None:
            saved_as = "fact"
            facts[f.key] = text
            by_key[f.key] = prompt.id
            result.facts.append(f.label)
        if saved_as != "fact":
            result.notes += 1
            note.append(f"{prompt.text}\n→ {text}" + (" (only the buyer can confirm this fact)"
                                                      if saved_as == "buyer" else ""))
        db.session.add(DiscoveryAnswer(org_id=deal.org_id, deal_id=deal.id, prompt_id=prompt.id,
                                       question=prompt.text[:MAX_PROMPT], answer=text, saved_as=saved_as,
                                       field_key=f.key if f is not None else None, user_id=actor.id))
    if note:
        db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, user_id=actor.id, kind="note",
                                body=f"Discovery call ({stage.name}):\n\n" + "\n\n".join(note)))
    try:
        update_deal(deal, actor, version=version, facts=facts)
    except Invalid as exc:
        # A fact's own check (a date, an amount, a person): say it beside the answer that was typed.
        raise Invalid({f"answer-{by_key[k]}" if k in by_key else k: v for k, v in exc.fields.items()},
                      "Some answers could not be saved: see the messages beside them.") from None
    return result


def latest_answers(deal) -> list:
    """The latest answer to each question asked on the deal, oldest question first."""
    rows = (DiscoveryAnswer.query.filter_by(org_id=deal.org_id, deal_id=deal.id)
            .order_by(DiscoveryAnswer.at.desc(), DiscoveryAnswer.id.desc()).all())
    seen, latest = set(), []
    for a in rows:
        key = a.prompt_id or a.question
        if key not in seen:
            seen.add(key)
            latest.append(a)
    return latest[::-1]


# --- Objections on a deal ----------------------------------------------------------------------

def _summary(picked) -> str:
    lines = []
    for objection, response in picked:
        lines.append(f"{objection.text}: answered with “{objection.responses[response]}”")
    return "\n".join(lines)


def record_objections(deal, actor, picks: dict, version) -> str:
    """Record which objections came up on the deal and the response used: {objection_id: index or None}.

    The answered ones are written as the playbook's objections fact (typed by the rep), so a stage can
    require it; raised and unanswered ones are kept, not written. Return what happened, in words.
    """
    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can record objections on it.")
    objections = {o.id: o for o in guide(deal.pipeline)}
    errors, chosen = {}, {}
    for objection_id, raw in picks.items():
        objection = objections.get(objection_id)
        if objection is None:
            errors[f"objection-{objection_id}"] = "is not an objection of this pipeline's guide"
            continue
        response = None
        if raw not in (None, ""):
            response = clean_int(raw, f"response-{objection_id}", errors, 0, len(objection.responses) - 1)
        chosen[objection_id] = response
    if errors:
        raise Invalid(errors, "Choose objections and responses from the guide.")
    existing = deal_objections(deal)
    for objection_id, row in existing.items():
        if objection_id in objections and objection_id not in chosen:  # one taken off the guide stays counted
            db.session.delete(row)
    for objection_id, response in chosen.items():
        row = existing.get(objection_id)
        if row is None:
            db.session.add(DealObjection(org_id=deal.org_id, deal_id=deal.id, objection_id=objection_id,
                                         response=response, user_id=actor.id))
        elif row.response != response:
            row.response, row.user_id = response, actor.id
    answered = [(objections[i], r) for i, r in chosen.items() if r is not None]
    answered.sort(key=lambda pair: (pair[0].position, pair[0].id))
    book = playbook_of(deal.pipeline)
    target = next((f for f in deal.pipeline.active_fields if f.key == book.objections_key), None)
    facts, words = {}, f"{len(chosen)} objection{'s' if len(chosen) != 1 else ''} recorded."
    if target is not None and answered:
        if target.key in buyer_only_keys(deal.pipeline):
            words += f" Only the buyer can confirm {target.label}: it was not written."
        else:
            facts[target.key] = _summary(answered)
            words += f" Saved as the fact {target.label}."
    elif target is not None and chosen:
        words += f" {target.label} is written once you pick the response you used."
    try:
        update_deal(deal, actor, version=version, facts=facts)
    except Invalid as exc:
        raise Invalid(exc.fields, exc.message) from None
    return words


# --- Demo prep and hand-off ---------------------------------------------------------------------

def _fact_rows(deal, keys) -> list:
    fields = {f.key: f for f in deal.pipeline.fields}
    meta = deal.facts_meta or {}
    rows = []
    for key in keys:
        f = fields.get(key)
        if f is not None and not f.archived:
            rows.append({"label": f.label, "value": (deal.facts or {}).get(key), "type": f.type,
                         "source": describe(meta.get(key))})
    return rows


def demo_prep(deal) -> dict:
    """One page of what discovery found, so the demo is tailored: the chosen facts, the people with their
    roles, the objections raised (with the response used) and the latest answer to each question."""
    book = playbook_of(deal.pipeline)
    raised = sorted(deal_objections(deal).values(), key=lambda o: (o.objection.position, o.objection_id))
    return {"facts": _fact_rows(deal, book.demo_keys or []), "contacts": deal_contacts(deal),
            "objections": raised, "answers": latest_answers(deal)}


def handoff(deal) -> dict:
    """The onboarding document of a won deal: every fact, the people with roles, the timeline and the
    warm-introduction task of the onboarding owner."""
    tasks = (Task.query.filter_by(org_id=deal.org_id, deal_id=deal.id, kind="handoff")
             .order_by(Task.created_at.desc(), Task.id.desc()).all())
    return {"facts": _fact_rows(deal, [f.key for f in deal.pipeline.fields if (deal.facts or {}).get(f.key)
                                       not in (None, "")]),
            "contacts": deal_contacts(deal), "timeline": timeline(deal=deal, limit=200), "tasks": tasks,
            "intro": playbook_of(deal.pipeline).handoff_intro,
            "objections": sorted(deal_objections(deal).values(), key=lambda o: o.objection.position)}


# --- Editing (admins) ---------------------------------------------------------------------------

def _admin(actor, pipeline) -> None:
    if actor.org_id != pipeline.org_id or not actor.has_role("admin"):
        raise Forbidden("Only an admin can edit playbooks.")


def save_prompts(stage: Stage, actor, rows: list) -> int:
    """Replace a stage's call sheet with `rows` [(id or None, kind, text, field_key)]; a blank text drops
    a line. Answers already given keep the question as it was asked. Return how many lines it has."""
    _admin(actor, stage.pipeline)
    fields = {f.key for f in stage.pipeline.active_fields}
    existing = {p.id: p for p in stage_prompts(stage)}
    errors, keep = {}, []
    for i, (prompt_id, kind, text, key) in enumerate(rows):
        text = clean_text(text, f"text-{i}", errors, MAX_PROMPT)
        if not text:
            continue
        if kind not in PROMPT_KINDS:
            errors[f"kind-{i}"] = "must be an open question, a silence or a summary statement"
        key = key or None
        if key is not None and key not in fields:
            errors[f"field-{i}"] = "is not a field of this pipeline"
        if prompt_id is not None and prompt_id not in existing:
            errors[f"text-{i}"] = "is not a line of this stage's call sheet"
        keep.append((prompt_id, kind, text, key))
    if len(keep) > MAX_PROMPTS:
        errors["text-0"] = f"a call sheet holds at most {MAX_PROMPTS} lines"
    if errors:
        raise Invalid(errors, "Please correct the highlighted lines.")
    kept_ids = {pid for pid, *_ in keep if pid is not None}
    for pid, prompt in existing.items():
        if pid not in kept_ids:
            DiscoveryAnswer.query.filter_by(org_id=stage.org_id, prompt_id=pid).update({"prompt_id": None})
            db.session.delete(prompt)
    for position, (pid, kind, text, key) in enumerate(keep, start=1):
        prompt = existing.get(pid) if pid is not None else None
        if prompt is None:
            prompt = DiscoveryPrompt(org_id=stage.org_id, stage_id=stage.id)
            db.session.add(prompt)
        prompt.kind, prompt.text, prompt.field_key, prompt.position = kind, text, key, position
    db.session.commit()
    return len(keep)


def add_set_prompts(stage: Stage, actor, set_key: str) -> int:
    """Add the BANT or MEDDIC questions to a stage's call sheet (each mapped to its field when the pipeline
    has it); return how many lines were added."""
    from app.playbooks.starter import SET_PROMPTS

    _admin(actor, stage.pipeline)
    prompts = SET_PROMPTS.get(set_key)
    if prompts is None:
        raise Invalid({"set_key": "is not a requirement set"}, "Choose BANT or MEDDIC.")
    fields = {f.key for f in stage.pipeline.active_fields}
    position = max((p.position for p in stage_prompts(stage)), default=0)
    for i, (kind, text, key) in enumerate(prompts, start=1):
        db.session.add(DiscoveryPrompt(org_id=stage.org_id, stage_id=stage.id, kind=kind, text=text,
                                       field_key=key if key in fields else None, position=position + i))
    db.session.commit()
    return len(prompts)


def save_guide(pipeline, actor, rows: list) -> int:
    """Save the objection guide: rows [(id or None, text, [responses])]; a blank objection is archived.
    Return how many objections the guide holds."""
    _admin(actor, pipeline)
    existing = {o.id: o for o in guide(pipeline)}
    errors, keep = {}, []
    for i, (objection_id, text, responses) in enumerate(rows):
        text = clean_text(text, f"objection-{i}", errors, MAX_OBJECTION)
        cleaned = [clean_text(r, f"response-{i}-{j}", errors, MAX_RESPONSE)
                   for j, r in enumerate(responses[:MAX_RESPONSES])]
        if len(responses) > MAX_RESPONSES:
            errors[f"objection-{i}"] = f"takes at most {MAX_RESPONSES} responses"
        if objection_id is not None and objection_id not in existing:
            errors[f"objection-{i}"] = "is not an objection of this guide"
        if not text:
            if any(cleaned) and objection_id is None:
                errors[f"objection-{i}"] = "is required: say the objection the responses answer"
            continue
        keep.append((objection_id, text, [r for r in cleaned if r]))
    if len(keep) > MAX_OBJECTIONS:
        errors["objection-0"] = f"a guide holds at most {MAX_OBJECTIONS} objections"
    if errors:
        raise Invalid(errors, "Please correct the highlighted objections.")
    kept = {oid for oid, *_ in keep if oid is not None}
    for oid, objection in existing.items():
        if oid not in kept:
            objection.archived = True  # deals that met it keep it (and the report counts them)
    for position, (oid, text, responses) in enumerate(keep, start=1):
        objection = existing.get(oid) if oid is not None else None
        if objection is None:
            objection = Objection(org_id=pipeline.org_id, pipeline_id=pipeline.id)
            db.session.add(objection)
        objection.text, objection.responses, objection.position = text, responses, position
    db.session.commit()
    return len(keep)


def save_settings(pipeline, actor, objections_key, demo_keys: list, handoff_intro) -> Playbook:
    """Save which fact the objection picker writes, which facts the demo prep sheet shows, the hand-off script."""
    _admin(actor, pipeline)
    fields = {f.key: f for f in pipeline.active_fields}
    errors = {}
    objections_key = objections_key or None
    if objections_key is not None and (objections_key not in fields or fields[objections_key].type not in FACT_TYPES):
        errors["objections_key"] = "must be a text field of this pipeline"
    bad = [k for k in demo_keys if k not in fields]
    if bad:
        errors["demo_keys"] = "must be fields of this pipeline"
    intro = clean_text(handoff_intro, "handoff_intro", errors, MAX_INTRO)
    if errors:
        raise Invalid(errors, "Please correct the highlighted settings.")
    book = playbook_of(pipeline)
    book.objections_key, book.demo_keys, book.handoff_intro = objections_key, list(dict.fromkeys(demo_keys)), intro
    db.session.add(book)
    db.session.commit()
    return book


def start_guide(pipeline, actor) -> int:
    """Fill an empty objection guide with the article's five common objections, three responses each."""
    from app.playbooks.starter import add_starter_objections

    _admin(actor, pipeline)
    if guide(pipeline):
        raise Invalid({"guide": "is not empty"}, "The guide already has objections.")
    add_starter_objections(pipeline)
    db.session.commit()
    return len(guide(pipeline))


def check_version(deal, version) -> None:
    """Refuse a stale page before anything is written (the service checks again in its transaction)."""
    if version not in (None, "") and str(version) != str(deal.version):
        raise Conflict(deal.id)
