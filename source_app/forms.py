"""The public forms: parsing and validation only, every message translated."""

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from source_app.categories import DEFAULT_CATEGORIES

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 20_000
MAX_NAME_LENGTH = 200


def _no_control_characters(_form: Any, field: Any) -> None:
    value = field.data or ""
    if any(ord(c) < 32 and c not in "\t\r\n" for c in value):
        raise ValidationError(_l("This field contains characters that are not allowed."))


def _looks_like_a_link(_form: Any, field: Any) -> None:
    value = (field.data or "").strip()
    if any(c.isspace() for c in value) or "." not in value or len(value) < 4:
        raise ValidationError(
            _l("Enter the address of the content, for example https://example.com/page.")
        )


class ReportForm(FlaskForm):
    """A report without attachments: what, where, and whether the reporter says who."""

    category = SelectField(
        _l("What kind of content is it?"),
        choices=[SelectChoice(c.id, c.label) for c in DEFAULT_CATEGORIES],
        validators=[DataRequired(message=_l("Choose a category."))],
        validate_choice=True,
    )
    url = StringField(
        _l("Address (URL) of the content"),
        validators=[
            DataRequired(message=_l("Enter the address of the content.")),
            Length(max=MAX_URL_LENGTH, message=_l("This address is too long.")),
            _no_control_characters,
            _looks_like_a_link,
        ],
    )
    description = TextAreaField(
        _l("What did you see?"),
        validators=[
            DataRequired(message=_l("Describe what you saw.")),
            Length(max=MAX_DESCRIPTION_LENGTH, message=_l("The description is too long.")),
            _no_control_characters,
        ],
    )
    identity = RadioField(
        _l("Do you want to give your name?"),
        choices=[
            SelectChoice("anonymous", _l("No, stay anonymous")),
            SelectChoice("identified", _l("Yes, give my name")),
        ],
        default="anonymous",
        validators=[DataRequired(message=_l("Choose whether to give your name."))],
    )
    full_name = StringField(
        _l("Full name"),
        validators=[
            Optional(),
            Length(max=MAX_NAME_LENGTH, message=_l("This name is too long.")),
            _no_control_characters,
        ],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        # Checked here, not inline: Optional() on an empty name stops a field's own chain.
        valid: bool = super().validate(extra_validators)
        if self.identity.data == "identified" and not (self.full_name.data or "").strip():
            self.full_name.errors = [
                *self.full_name.errors,
                _l("Enter your name, or choose to stay anonymous."),
            ]
            return False
        return valid


class StatusForm(FlaskForm):
    """The receipt code, as the reporter types it."""

    code = StringField(
        _l("Your receipt code"),
        validators=[
            DataRequired(message=_l("Enter your receipt code.")),
            Length(max=80, message=_l("A receipt code is twenty digits.")),
        ],
    )
