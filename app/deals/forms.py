"""WTForms built from field definitions: one typed input per deal fact.

Values are validated with app.deals.facts.parse_fact, so a form, the API and an import
all show the same error text for the same bad value.
"""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput

from app.deals.facts import MAX_LONG_TEXT, MAX_TEXT, FactError, parse_fact
from app.deals.service import once_per_fact

PREFIX = "fact_"  # input names are fact_<key>: no clash with the form's own attributes


def _fact_validator(fielddef):
    def check(form, field):
        try:
            field.clean = parse_fact(fielddef, field.data)
        except FactError as exc:
            raise ValidationError(str(exc)) from None

    return check


def _input_for(fielddef, label):
    """Return the unbound WTForms field for one field definition."""
    kwargs = {"label": label, "validators": [_fact_validator(fielddef)],
              "description": fielddef.help_text or ""}
    kind = fielddef.type
    if kind == "long_text":
        return TextAreaField(render_kw={"rows": 3, "maxlength": MAX_LONG_TEXT}, **kwargs)
    if kind in ("number", "money"):
        render = {"inputmode": "decimal", "autocomplete": "off"}
        if kind == "money":
            render["placeholder"] = "e.g. 25k or $25,000"
        return StringField(render_kw=render, **kwargs)
    if kind == "date":
        return StringField(widget=DateInput(), **kwargs)
    if kind == "checkbox":
        return BooleanField(false_values=(False, "false", ""), **kwargs)
    if kind == "choice":
        choices = [("", "Choose…")] + [(c, c) for c in (fielddef.choices or [])]
        return SelectField(choices=choices, validate_choice=False, **kwargs)
    if kind == "contact":
        kwargs["description"] = fielddef.help_text or \
            "A name, with an email and role if you know them (Dana Ortiz, dana@acme.com, CFO), or a contact from the list"
        return StringField(render_kw={"autocomplete": "off", "list": "contact-options", "maxlength": MAX_TEXT},
                           **kwargs)
    if kind == "email":
        return EmailField(**kwargs)
    if kind == "url":
        return URLField(render_kw={"placeholder": "https://"}, **kwargs)
    return StringField(render_kw={"maxlength": MAX_TEXT}, **kwargs)


def _stored_to_input(fielddef, value):
    if value is None:
        return False if fielddef.type == "checkbox" else ""
    return value if fielddef.type == "checkbox" else str(value)


class FactsForm(FlaskForm):
    """Base of the dynamic facts forms; `fact_fields` pairs each FieldDef with its input."""

    class Meta:
        csrf = False  # the page form carries the token itself

    def fact_fields(self):
        return [(fd, self[PREFIX + fd.key]) for fd in self._fielddefs]

    def facts(self) -> dict:
        """Return {key: raw value} as typed (the gate parses and validates them again)."""
        return {fd.key: self[PREFIX + fd.key].data for fd in self._fielddefs}

    def add_errors(self, errors: dict) -> None:
        """Put a service's per-field errors beside the matching inputs."""
        for key, message in errors.items():
            name = PREFIX + str(key)
            if name in self._fields and message not in (self[name].errors or []):
                self[name].errors = [*(self[name].errors or []), message]


def build_facts_form(fielddefs, values=None, formdata=None, labels=None):
    """Build a form asking for `fielddefs`; existing `values` fill it unless `formdata` is sent."""
    labels = labels or {}

    class _Form(FactsForm):
        pass

    for fd in fielddefs:
        setattr(_Form, PREFIX + fd.key, _input_for(fd, labels.get(fd.key, fd.label)))
    data = {PREFIX + fd.key: _stored_to_input(fd, (values or {}).get(fd.key)) for fd in fielddefs}
    form = _Form(formdata=formdata, data=data)
    form._fielddefs = list(fielddefs)
    return form


def fact_labels(requirements) -> dict:
    """Name each asked fact in the buyer's words, with where the gate asks for it."""
    return {r.field.key: f"{r.field.label} ({r.stage.name} {r.when})" for r in requirements}


def missing_facts_form(requirements, values=None, formdata=None):
    """Return (form, asked): a form asking once for each fact of `requirements`."""
    asked = once_per_fact(requirements)
    form = build_facts_form([r.field for r in asked], values=values, formdata=formdata, labels=fact_labels(asked))
    return form, asked


class DealDetailsForm(FlaskForm):
    """The deal's own columns edited beside its facts."""

    class Meta:
        csrf = False

    version = HiddenField()
    title = StringField("Title", render_kw={"maxlength": 200})
    amount = StringField("Amount", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    company = StringField("Company", render_kw={"maxlength": 200, "autocomplete": "off", "list": "company-options"},
                          description="Pick one, or type a new name to add it")
    next_step = StringField("Next step", render_kw={"maxlength": 200,
                                                    "placeholder": "e.g. Send the proposal"})
    next_step_due = StringField("Next step date", widget=DateInput())
    expected_close_date = StringField("Expected close date", widget=DateInput(),
                                      description="When you expect the buyer to sign (optional)")


PERSON_HINT = "Pick a contact, or type a name with an email and role if you know them (Dana Ortiz, CFO)"


class NewDealForm(FlaskForm):
    class Meta:
        csrf = False

    title = StringField("Title", render_kw={"maxlength": 200, "autofocus": True})
    amount = StringField("Amount", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    # The person as a contact fact is typed (parsed by the gate's parse_contact); contact_id keeps the
    # contact the form was opened from, so a pick that nobody retyped is that contact exactly.
    person = StringField("Person", description=PERSON_HINT,
                         render_kw={"maxlength": MAX_TEXT, "autocomplete": "off", "list": "contact-options"})
    contact_id = HiddenField()
    company = StringField("Company", render_kw={"maxlength": 200, "autocomplete": "off", "list": "company-options"},
                          description="Pick one, or type a new name to add it")
    owner_id = SelectField("Owner", choices=[], validate_choice=False)
    expected_close_date = StringField("Expected close date", widget=DateInput(),
                                      description="When you expect the buyer to sign (optional)")
    stage_id = SelectField("Stage", choices=[], validate_choice=False)


def read_loss_reason(form) -> tuple:
    """Return (loss_reason_id, reason) from the loss-reason question (list, or "Other…" with text).

    With "Other…" the typed text is the reason (notes follow it); otherwise the reason is the notes.
    """
    raw = (form.get("loss_reason_id") or "").strip()
    notes = (form.get("reason") or "")[:100_000]
    if raw == "other":
        other = (form.get("other_reason") or "")[:100_000].strip()
        return None, "\n\n".join(filter(None, [other, notes.strip()])) if other else ""
    return (int(raw) if raw.isdigit() and len(raw) < 12 else None), notes
def company_choices(org_id: int, limit: int = 300) -> list:
    """The organisation's company names, for the deal page's company suggestions."""
    from app.models import Company

    return [name for (name,) in Company.query.filter_by(org_id=org_id).order_by(Company.name).limit(limit)
            .with_entities(Company.name)]


def contact_choices(org_id: int, limit: int = 300) -> list:
    """The organisation's contacts as a contact fact writes them, for the inputs' suggestion list."""
    from app.models import Contact

    rows = (Contact.query.filter_by(org_id=org_id)
            .order_by(Contact.name, Contact.id).limit(limit)
            .with_entities(Contact.name, Contact.email, Contact.title))
    return [contact_text(name, email, title) for name, email, title in rows]


def contact_text(name, email, title) -> str:
    """A contact as a contact fact writes it: "Dana Ortiz <dana@acme.com>, CFO"."""
    return (name + (f" <{email}>" if email else "") if name else email or "") + (f", {title}" if title else "")
