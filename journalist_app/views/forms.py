"""Web forms; Flask-WTF adds and checks the CSRF token on each."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from journalist_app.accounts.passphrase import MAX_PASSPHRASE_LENGTH
from journalist_app.roles import ROLE_LABELS

# A WebAuthn answer as JSON (base64url fields): a few hundred bytes to a few KiB.
_CREDENTIAL_JSON = Length(max=16384)


class LoginForm(FlaskForm):
    """Passphrase, then the second factor: a TOTP code, or a security key's answer (the
    page's script fills ``assertion``; without JavaScript only the code is offered)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    passphrase = PasswordField(_l("Passphrase"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(_l("Two-factor code"), validators=[Optional(), Length(max=32)])
    assertion = HiddenField(validators=[Optional(), _CREDENTIAL_JSON])


class SecurityKeyLoginForm(FlaskForm):
    """Passwordless: a security key's answer after its PIN, and its PRF output."""

    method = HiddenField(default="security-key")
    assertion = HiddenField(validators=[DataRequired(), _CREDENTIAL_JSON])
    prf = HiddenField(validators=[Optional(), Length(max=64)])


class RegisterSecurityKeyForm(FlaskForm):
    """An officer adds a security key: a name, their passphrase again, the key's answer."""

    name = StringField(_l("Name of the key"), validators=[DataRequired(), Length(max=64)])
    passphrase = PasswordField(
        _l("Your current passphrase"), validators=[DataRequired(), Length(max=1024)]
    )
    registration = HiddenField(validators=[DataRequired(), _CREDENTIAL_JSON])
    prf = HiddenField(validators=[Optional(), Length(max=64)])


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
