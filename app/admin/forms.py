"""Admin forms: they parse and label input; the services own the rules."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.models import CONTACT_ROLES, FIELD_TYPES, ROLES
from app.pipelines.catalog import REQUIREMENT_SETS, TEMPLATES

KIND_CHOICES = [("open", "Open"), ("won", "Won"), ("lost", "Lost")]
ROLE_CHOICES = [(r, r.capitalize()) for r in ROLES]
REQUIRED = "is required"


def Max(limit: int) -> Length:  # noqa: N802 (reads like the validator it builds)
    return Length(max=limit, message=f"must be at most {limit:,} characters")


def _sentence(field, message: str) -> str:
    """Turn 'is required' into 'Stage name is required' so the message stands on its own."""
    return f"{field.label.text} {message}" if message[:1].islower() else message


class AdminForm(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for f in self:
            f.errors = [_sentence(f, m) for m in f.errors] if isinstance(f.errors, list) else f.errors
        return ok


def add_errors(form, fields: dict) -> None:
    """Put a service's field errors beside the matching inputs (or on the first one)."""
    for name, message in fields.items():
        target = getattr(form, name, None)
        if target is None or not hasattr(target, "errors"):
            target = next(f for f in form if f.type not in ("CSRFTokenField", "HiddenField"))
        message = _sentence(target, message)
        target.errors = [*target.errors, message] if isinstance(target.errors, list) else [message]


class NewPipelineForm(AdminForm):
    name = StringField("Pipeline name", validators=[Optional(), Max(120)])
    template = HiddenField(validators=[Optional()])


class PipelineForm(AdminForm):
    name = StringField("Name", validators=[DataRequired(REQUIRED), Max(120)])
    allow_skip = BooleanField("Allow skipping stages",
                              description="A skip still needs every requirement in between.")
    handoff_user_id = SelectField("Hand-off owner when a deal is won", choices=[], validate_choice=False,
                                  description="Gets the onboarding task; the deal's owner when unset.")


class StageForm(AdminForm):
    name = StringField("Stage name", validators=[DataRequired(REQUIRED), Max(80)])
    buyer_state = StringField("Buyer state it stands for", validators=[Max(200)],
                              description="What is true of the buyer in this stage, in their words.")
    kind = SelectField("Kind", choices=KIND_CHOICES, validate_choice=False)
    probability = IntegerField("Win probability (%)", default=10,
                               validators=[Optional(), NumberRange(0, 100, "must be between 0 and 100")])
    max_days = IntegerField("Maximum days in stage", default=7,
                            validators=[Optional(), NumberRange(1, 3650, "must be between 1 and 3650")],
                            description="Cards turn red after this many days.")
    is_meeting = BooleanField("This is the meeting stage",
                              description="One per pipeline: setting it here moves it from another stage.")
    guidance = TextAreaField("Guidance (the stage's playbook)", validators=[Max(5000)],
                             description="Questions to ask, the objection guide. Reps see it on the gate.")


class FieldForm(AdminForm):
    label = StringField("Label", validators=[DataRequired(REQUIRED), Max(120)],
                        description="In the buyer's words, e.g. \u201cBudget range captured\u201d.")
    type = SelectField("Type", choices=list(FIELD_TYPES.items()), validate_choice=False)
    help_text = StringField("Help text", validators=[Max(300)])
    choices = TextAreaField("Choices (one per line)", validators=[Max(6000)])
    contact_role = SelectField("Contact's role", choices=[("", "Choose a role"), *CONTACT_ROLES.items()],
                               validate_choice=False)
    min_value = StringField("Minimum", validators=[Max(40)])
    max_value = StringField("Maximum", validators=[Max(40)])
    pattern = StringField("Pattern (regular expression)", validators=[Max(200)],
                          description="The whole value must match, e.g. [A-Z]{2}-\\d{4}.")
    future_only = BooleanField("Date must be in the future")


class CriteriaApplyForm(AdminForm):
    set_key = SelectField("Requirement set", choices=[(k, v["name"]) for k, v in REQUIREMENT_SETS.items()],
                          validate_choice=False)
    when = SelectField("Required on", choices=[("exit", "Exit"), ("entry", "Entry")], validate_choice=False)


class LossReasonForm(AdminForm):
    label = StringField("Reason", validators=[DataRequired(REQUIRED), Max(120)])


class UserForm(AdminForm):
    email = EmailField("Email", validators=[DataRequired(REQUIRED), Max(254)])
    name = StringField("Name", validators=[DataRequired(REQUIRED), Max(120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="rep", validate_choice=False)
    password = PasswordField("Initial password", validators=[DataRequired(REQUIRED), Max(200)],
                             description="At least 8 characters. Share it privately.")


class RoleForm(AdminForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class PasswordForm(AdminForm):
    password = PasswordField("New password", validators=[DataRequired(REQUIRED), Max(200)])


class ApiKeyForm(AdminForm):
    name = StringField("Key name", validators=[DataRequired(REQUIRED), Max(120)],
                       description="Where it is used, e.g. \u201cWebsite lead form\u201d.")
    user_id = SelectField("Acts as", choices=[], validate_choice=False)


TEMPLATE_CHOICES = [(k, v["name"], v["description"]) for k, v in TEMPLATES.items()]
