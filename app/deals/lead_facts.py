"""What a lead already told us, offered as a new deal's facts.

A lead carries facts about itself (`Contact.lead_facts`: industry, company size, country, and
whatever a form or an import wrote, such as an ICP fit or a pain) and its company's industry and
size. When a rep turns the lead into a deal, each of those whose key or meaning matches a field the
pipeline's first stage asks for is offered as that field's value. Offered, never recorded: the
values only fill the form, and the rep confirms them by submitting it, so the gate still checks
what a person saw.
"""

import re

from app.deals.facts import TRUE_WORDS, FactError, parse_fact

# Words that mean one thing, whatever a form, an import or a template called it: a key or a label
# holding every word of one of a meaning's sets has that meaning ("Real problems uncovered" is a pain).
MEANINGS = {
    "icp": [{"icp"}, {"ideal", "customer", "profile"}],
    "pain": [{"pain"}, {"pains"}, {"problem"}, {"problems"}],
    "company_size": [{"company", "size"}, {"team", "size"}, {"employees"}, {"headcount"}],
    "industry": [{"industry"}, {"vertical"}, {"sector"}],
    "country": [{"country"}],
}


def _words(text) -> set:
    return set(re.split(r"[^a-z0-9]+", str(text).lower())) - {""}


def _normal_key(text) -> str:
    return "_".join(re.split(r"[^a-z0-9]+", str(text).lower())).strip("_")


def meaning_of(*names) -> str | None:
    """The meaning (a MEANINGS key) that any of `names` (a key, a label) carries, or None."""
    for name in names:
        words = _words(name)
        for meaning, sets in MEANINGS.items():
            if any(needed <= words for needed in sets):
                return meaning
    return None


def lead_facts(contact) -> dict:
    """The facts a lead carries: what it told us, then its company's industry and size where it did not."""
    facts = {_normal_key(k): v for k, v in (contact.lead_facts or {}).items() if _normal_key(k)}
    company = contact.company
    if company is not None:
        if company.industry and not facts.get("industry"):
            facts["industry"] = company.industry
        if company.size and not facts.get("company_size"):
            facts["company_size"] = company.size
    return {k: v for k, v in facts.items() if v not in (None, "", [], {})}


def _offered(field, value):
    """`value` in the stored form of `field`, or None when the field could not take it as it is."""
    if field.type == "checkbox":
        # A fit is a yes only when the lead said yes: "true", "yes", 1... never "unknown" or "no".
        if value is True or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS):
            return True
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return True
        return None
    if isinstance(value, list | dict):
        return None
    try:
        return parse_fact(field, value)
    except FactError:
        return None


def prefill_from_lead(contact, fields) -> dict:
    """Return {field key: stored value} for each of `fields` a fact of the lead matches, by key or meaning."""
    facts = lead_facts(contact)
    by_meaning = {}
    for key in facts:
        meaning = meaning_of(key)
        if meaning is not None:
            by_meaning.setdefault(meaning, key)
    offered = {}
    for field in fields:
        key = field.key if field.key in facts else by_meaning.get(meaning_of(field.key, field.label))
        value = _offered(field, facts[key]) if key is not None else None
        if value is not None:
            offered[field.key] = value
    return offered
