"""Task forms: parse and render; the rules live in app/tasks/service.py."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from app.tasks.service import CREATABLE_KINDS, KINDS


class TaskForm(FlaskForm):
    """The one-step task form; ids carry `task-` so they never clash with a deal page's form."""

    title = StringField("What to do", id="task-title", default="Follow up",
                        validators=[InputRequired(message="Say what to do."), Length(max=200)])
    kind = SelectField("Kind", id="task-kind", choices=[(k, KINDS[k]) for k in CREATABLE_KINDS],
                       default="follow_up")
    # A plain string so garbage reaches the service, which names the problem.
    due = StringField("Due", id="task-due", render_kw={"type": "date"})
    deal_id = HiddenField(id="task-deal-id")
    contact_id = HiddenField(id="task-contact-id")
    owner_id = HiddenField(id="task-owner-id")  # a manager adding to a rep's list


class SnoozeForm(FlaskForm):
    until = SelectField("Snooze", choices=[("1d", "1 day"), ("1w", "1 week"), ("date", "Until a date")],
                        validate_choice=False)
    on_date = StringField("Until", render_kw={"type": "date"})


class ReassignForm(FlaskForm):
    owner_id = StringField("Give to")
