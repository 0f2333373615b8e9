from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.contacts.service import LEAD_STATUSES
from app.models import CONTACT_ROLES
from app.models.activity import ACTIVITY_KINDS, LOGGABLE_KINDS


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    title = StringField("Job title", validators=[Optional(), Length(max=120)])
    company = StringField("Company", validators=[Optional(), Length(max=200)],
                          description="Type a company name; a new name creates the company.")
    persona = StringField("Persona", validators=[Optional(), Length(max=80)],
                          description="How they buy, e.g. “Technical evaluator”.")
    lead_status = SelectField("Lead status", choices=list(LEAD_STATUSES.items()), default="new")


class CompanyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    industry = StringField("Industry", validators=[Optional(), Length(max=120)])
    size = StringField("Size", validators=[Optional(), Length(max=40)], description="e.g. 11-50 employees")
    website = StringField("Website", validators=[Optional(), Length(max=300)])


class ActivityForm(FlaskForm):
    kind = SelectField("What happened", choices=[(k, ACTIVITY_KINDS[k]) for k in LOGGABLE_KINDS], default="note")
    body = TextAreaField("Details", validators=[DataRequired(message="Say what happened."), Length(max=10_000)])


class LinkContactForm(FlaskForm):
    contact = StringField("Contact email", validators=[DataRequired(), Length(max=254)],
                          description="An existing contact's email, or a new one to add.")
    role = SelectField("Role", choices=list(CONTACT_ROLES.items()), default="decision_maker")
