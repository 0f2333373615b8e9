"""Merge fields in subjects and bodies: {{first_name}}, {{name}}, {{company}}, {{owner_name}}."""

import re

FIELDS = ("first_name", "name", "company", "owner_name")
_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def problems(text: str) -> list[str]:
    """Return a sentence for each unknown or broken merge field in `text` (empty when all is well)."""
    found = []
    for match in _FIELD.finditer(text or ""):
        name = match.group(1)
        if name not in FIELDS:
            shown = match.group(0)[:40]
            found.append(f"{shown} is not a merge field; use one of " + ", ".join(f"{{{{{f}}}}}" for f in FIELDS) + ".")
    rest = _FIELD.sub("", text or "")
    for token in ("{{", "}}"):
        at = rest.find(token)
        if at >= 0:
            near = rest[max(0, at - 15): at + 20].replace("\n", " ")
            found.append(f"A merge field is not closed or not opened near “{near}”: write it as {{{{first_name}}}}.")
            break
    if "{" in rest.replace("{{", "") and re.search(r"(?<!\{)\{(first_name|name|company|owner_name)\}(?!\})", rest):
        found.append("Merge fields take double braces: {{first_name}}, not {first_name}.")
    return found


def values_for(contact, owner) -> dict:
    """The merge values for `contact`, sent by `owner`."""
    name = (contact.name or "").strip()
    return {
        "first_name": name.split()[0] if name else "",
        "name": name,
        "company": contact.company.name if contact.company else "",
        "owner_name": owner.name if owner else "",
    }


def render(text: str, values: dict) -> str:
    """Fill every merge field (the text has been checked by problems())."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def empty_fields(texts, values: dict) -> list[str]:
    """Name the merge fields used in `texts` that this contact has no value for."""
    used = {m.group(1) for text in texts for m in _FIELD.finditer(text or "")}
    return [f for f in FIELDS if f in used and not values.get(f)]
