from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SignupForm(FlaskForm):
    org_name = StringField("Company name", validators=[DataRequired(), Length(max=120)])
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Work email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        "New password", description="At least 8 characters.", render_kw={"autocomplete": "new-password"},
        validators=[DataRequired(), Length(min=8, max=200, message="Use at least 8 characters (at most 200).")])
    confirm = PasswordField("New password again", render_kw={"autocomplete": "new-password"}, validators=[
        DataRequired(), EqualTo("new_password", message="Type the same new password twice.")])
