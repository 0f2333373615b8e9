"""Where each deal fact came from (`Deal.facts_meta`), written by the deals service with the fact.

{key: {"source", "by", "at", "reason"?}}: `source` is who wrote the value ("rep" typed it on a page,
"api", "import", "form" for a lead form, "buyer" confirmed it in the deal room, "override" a
manager's override with a reason); `by` is a user's email, or for "buyer" the invitee's email.
A requirement marked buyer (StageRequirement.buyer) is met only by a "buyer" fact, or an
"override" one that carries a reason.
"""

from datetime import datetime

from app.models import iso

SOURCES = ("rep", "buyer", "form", "import", "api", "override")
SOURCE_WORDS = {"rep": "typed by", "buyer": "confirmed by", "form": "from a form, via", "import": "imported by",
                "api": "written through the API by", "override": "overridden by"}


def entry(source: str, by: str, at, reason: str = "") -> dict:
    """One fact's provenance record."""
    if source not in SOURCES:
        raise ValueError(f"unknown fact source {source!r}")
    record = {"source": source, "by": by or "", "at": iso(at)}
    if reason:
        record["reason"] = reason
    return record


def stamp(meta: dict | None, before: dict | None, after: dict, record: dict) -> dict:
    """Return `meta` with `record` on every fact `after` holds that is new or changed since `before`.

    A fact written again with the value it had keeps where it came from (a rep saving the form does
    not take a buyer's confirmation away); a fact that is gone loses its record.
    """
    before = before or {}
    stamped = {k: v for k, v in (meta or {}).items() if k in after}
    for key, value in after.items():
        if key not in before or before[key] != value:
            stamped[key] = dict(record)
    return stamped


def confirmed_by_buyer(record: dict | None) -> bool:
    """Whether a fact's record meets a buyer requirement: the buyer's confirmation, or an override with a reason."""
    if not isinstance(record, dict):
        return False
    return record.get("source") == "buyer" or (record.get("source") == "override" and bool(record.get("reason")))


def describe(record: dict | None) -> str:
    """Say where a fact came from, for the facts panel: "Confirmed by dana@x.com, 3 Dec 14:02 UTC"."""
    if not isinstance(record, dict) or record.get("source") not in SOURCE_WORDS:
        return ""
    words = f"{SOURCE_WORDS[record['source']]} {record.get('by') or 'someone'}"
    try:
        at = datetime.fromisoformat(record.get("at") or "")
    except (TypeError, ValueError):
        at = None
    if at is not None:
        words += f", {at.day} {at:%b %H:%M} UTC"
    if record.get("reason"):
        words += f" (reason: {record['reason']})"
    return words[0].upper() + words[1:]
