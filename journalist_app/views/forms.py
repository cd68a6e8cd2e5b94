"""Web forms; Flask-WTF adds and checks the CSRF token on each."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from journalist_app.accounts.passphrase import MAX_PASSPHRASE_LENGTH
from journalist_app.roles import ROLE_LABELS


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    passphrase = PasswordField(_l("Passphrase"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(_l("Two-factor code"), validators=[DataRequired(), Length(max=32)])


class ActionForm(FlaskForm):
    """A button that changes state (log out, sync): only the CSRF token."""


class NewOfficerForm(FlaskForm):
    """An admin creates an account; the passphrase is generated and shown once."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(
        _l("Role"),
        choices=[(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired()],
    )


class RemoveOfficerForm(FlaskForm):
    force = BooleanField(_l("Remove even if they are the last holder of a key"))


class ChangePassphraseForm(FlaskForm):
    current = PasswordField(
        _l("Current passphrase"),
        validators=[DataRequired(), Length(max=MAX_PASSPHRASE_LENGTH)],
    )
    new = PasswordField(
        _l("New passphrase"), validators=[DataRequired(), Length(max=MAX_PASSPHRASE_LENGTH)]
    )
    repeat = PasswordField(
        _l("New passphrase, again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passphrases differ."))],
    )


class ApproveResetForm(FlaskForm):
    """A supervisor approves an admin's passphrase reset (accounts/resets.py)."""

    confirmed = BooleanField(
        _l(
            "I checked in person that this officer asked for the reset and chose the new "
            "passphrase themselves."
        ),
        validators=[DataRequired()],
    )
