"""Add one task to each of many deals (the deals list's bulk action), through `create_task`'s rules."""

from app.deals.bulk import Outcome
from app.errors import Invalid
from app.tasks.service import create_task

# A refusal naming only these fields is about one deal (its owner left); any other is about the form.
PER_DEAL_FIELDS = {"owner_id", "deal_id"}
FORM_WORDS = {"title": ("the task needs a title", "the task's title"), "kind": (None, "its kind"),
              "due": (None, "its due date"), "notes": (None, "its notes")}


def _form_error(exc: Invalid) -> Invalid:
    """The form's refusal in one sentence: 'Nothing was changed: the task needs a title; ...'."""
    parts = []
    for name, text in exc.fields.items():
        required, called = FORM_WORDS.get(name, (None, name))
        parts.append(required if required and text == "is required" else f"{called} {text}")
    return Invalid(exc.fields, "Nothing was changed: " + "; ".join(parts) + ".")


def add_task_to_deals(actor, deals: list, *, title, kind="follow_up", due=None, for_owners: bool = True) -> Outcome:
    """Add a task to each deal: for the deal's owner (`for_owners`, managers) or for the actor.

    The title, kind and date are the same for every deal, so a bad one is refused on the first
    deal, before anything is written; a deal whose owner can no longer take tasks stays.
    """
    outcome = Outcome()
    for deal in deals:
        title_now = deal.title
        owner_id = deal.owner_id if for_owners else actor.id
        try:
            create_task(actor, title=title, kind=kind, due=due, deal_id=deal.id, owner_id=owner_id)
        except Invalid as exc:
            if not set(exc.fields) <= PER_DEAL_FIELDS:
                raise _form_error(exc) from None
            outcome.stayed.append((title_now, "its owner is no longer active"))
            continue
        outcome.done.append(title_now)
    outcome.summary = outcome.says(f"Added “{str(title).strip()[:80]}” to {{}}.")
    return outcome
