"""Bulk actions on deals picked in the deals list: change the owner, move through the gate.

The selection is checked whole before anything is written: every id must be a deal of the
actor's organisation that the actor may change, else nothing happens and the error names why.
Then each deal is its own outcome: a move goes through `move_deal`, the gate every path uses,
carrying the version the list showed (a deal changed since stays, as on the board), and a deal
the gate refuses stays with what it lacks while the rest move.
"""

from dataclasses import dataclass, field

from sqlalchemy.orm.exc import StaleDataError

from app.deals.service import can_edit, move_deal, once_per_fact
from app.errors import Conflict, Forbidden, GateRefused, Invalid, StagegateError
from app.extensions import db
from app.ids import parse_id
from app.models import Deal, Notification, Stage, User

MAX_SELECTED = 100  # the largest page of the list
CHANGED = "changed by someone else since the list was shown; reload and try again"


@dataclass
class Outcome:
    """What a bulk action did: the deals it changed, and each deal that stayed with why."""

    done: list = field(default_factory=list)  # titles
    stayed: list = field(default_factory=list)  # (title, why)
    summary: str = ""

    def says(self, did: str) -> str:
        """'Moved 7 deals to Proposal. 3 stayed:' from 'Moved {} to Proposal.' (the stayed are listed after)."""
        text = did.format(_deals(len(self.done)))
        return f"{text} {len(self.stayed)} stayed:" if self.stayed else text


def _deals(n: int) -> str:
    return f"{n} deal" if n == 1 else f"{n} deals"


def _listed(values, limit=5) -> str:
    shown = [str(v)[:40] for v in values[:limit]]
    more = len(values) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def selected_deals(actor, raw_ids) -> list:
    """Return the deals `raw_ids` name, in that order; raise unless every one is the actor's to change.

    Nothing is written on a refusal: an id that is not a number up to 2**31 - 1, another
    organisation's deal (or none at all), and a deal the actor may not change each refuse the whole
    selection, so no half of it is acted on by mistake.
    """
    raw = [r for r in raw_ids if str(r).strip()]
    if not raw:
        raise Invalid({"ids": "choose at least one deal"}, "Nothing was changed: no deal was selected.")
    if len(raw) > MAX_SELECTED:
        raise Invalid({"ids": f"at most {MAX_SELECTED}"},
                      f"Nothing was changed: select at most {MAX_SELECTED} deals at a time.")
    bad = [r for r in raw if parse_id(r) is None]
    if bad:
        raise Invalid({"ids": "not deal ids"},
                      f"Nothing was changed: {_listed(bad)} {'is not a deal id' if len(bad) == 1 else 'are not deal ids'}.")
    ids = list(dict.fromkeys(parse_id(r) for r in raw))
    deals = {d.id: d for d in Deal.query.filter(Deal.org_id == actor.org_id, Deal.id.in_(ids))}
    unknown = [i for i in ids if i not in deals]
    if unknown:
        raise Invalid({"ids": "not deals of this organisation"},
                      f"Nothing was changed: {_listed(unknown)} {'is' if len(unknown) == 1 else 'are'} "
                      "not a deal of your organisation (deleted, or never yours).")
    theirs = [deals[i].title for i in ids if not can_edit(deals[i], actor)]
    if theirs:
        raise Forbidden(f"Nothing was changed: only a deal's owner or a manager can change it, and "
                        f"{_listed(theirs)} {'is' if len(theirs) == 1 else 'are'} someone else's.")
    return [deals[i] for i in ids]


def _is_version(deal, versions: dict) -> bool:
    """Whether the deal is still at the version the list showed (no version sent: the one loaded)."""
    sent = versions.get(deal.id)
    return sent is None or str(sent).strip() == str(deal.version)


def change_owner(deals: list, owner_id, actor, versions: dict) -> Outcome:
    """Give each deal to `owner_id` (an active person of the organisation); tell them once."""
    owner = db.session.get(User, parse_id(owner_id)) if parse_id(owner_id) else None
    if owner is None or owner.org_id != actor.org_id or not owner.active:
        raise Invalid({"owner_id": "is not an active person in your organisation"},
                      "Nothing was changed: choose an active person of your organisation as the new owner.")
    outcome = Outcome()
    for deal in deals:
        title = deal.title
        if deal.owner_id == owner.id:
            outcome.stayed.append((title, f"already {owner.name}'s"))
            continue
        if not _is_version(deal, versions):
            outcome.stayed.append((title, CHANGED))
            continue
        deal.owner_id = owner.id
        try:
            db.session.commit()  # each deal its own write: a concurrent change to one keeps the rest
        except StaleDataError:
            db.session.rollback()
            outcome.stayed.append((title, CHANGED))
            continue
        outcome.done.append(title)
    if outcome.done and owner.id != actor.id:
        db.session.add(Notification(org_id=actor.org_id, user_id=owner.id, kind="assigned",
                                    text=f"{actor.name} gave you {_deals(len(outcome.done))}: "
                                         f"{_listed(outcome.done, 3)}"[:300],
                                    url=f"/deals/list?owner={owner.id}"))
        db.session.commit()
    outcome.summary = outcome.says(f"Gave {{}} to {owner.name}.")
    return outcome


STAGE_WHY = {"is the deal's current stage": "already there", "is not a stage of this deal's pipeline":
             "in another pipeline", "reopen the deal before closing it again": "closed: reopen it first"}


def _why(exc: StagegateError) -> str:
    """A refused move in words: the facts the deal lacks (their labels, as the gate names them), or the rule."""
    if isinstance(exc, GateRefused):
        # The gate's message is "<a rule's refusal> Missing: <facts>."; the facts come from `missing`.
        rule = exc.message.split("Missing:")[0].strip()
        parts = [rule] if rule else []
        if exc.missing:
            parts.insert(0, "lacks " + ", ".join(r.field.label for r in once_per_fact(exc.missing)))
        return "; ".join(parts) or exc.message
    if isinstance(exc, Conflict):
        return CHANGED
    if isinstance(exc, Invalid) and "stage_id" in exc.fields:
        return STAGE_WHY.get(exc.fields["stage_id"], exc.fields["stage_id"])
    return exc.message


def bulk_stage(actor, stage_id) -> Stage:
    """The stage a bulk move goes to: an active open or won stage of the actor's organisation."""
    stage = db.session.get(Stage, parse_id(stage_id)) if parse_id(stage_id) else None
    if stage is None or stage.org_id != actor.org_id or stage.archived:
        raise Invalid({"stage_id": "is not a stage of your organisation"},
                      "Nothing was changed: choose a stage to move the deals to.")
    if stage.kind == "lost":
        raise Invalid({"stage_id": "needs a loss reason"},
                      "Nothing was changed: close deals as lost one at a time, from the board or the deal's "
                      "page, where the loss reason is asked.")
    return stage


def move_deals(deals: list, to_stage: Stage, actor, versions: dict) -> Outcome:
    """Move each deal to `to_stage` through the gate; a deal the gate refuses stays, with what it lacks."""
    outcome = Outcome()
    name = to_stage.name
    for deal in deals:
        title = deal.title  # read now: a refusal rolls the session back and expires the deal
        try:
            move_deal(deal, to_stage, actor, version=versions.get(deal.id))
        except StagegateError as exc:
            outcome.stayed.append((title, _why(exc)))
            continue
        outcome.done.append(title)
    did = f"Closed {{}} as won ({name})." if to_stage.kind == "won" else f"Moved {{}} to {name}."
    outcome.summary = outcome.says(did)
    return outcome
