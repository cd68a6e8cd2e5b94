"""Forms of the case pages (journalist_app/views/case*.py); choices are filled per request."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crypto.contents import MAX_REPLY_MESSAGE_CHARS
from journalist_app.row_ids import MAX_ROW_ID
from journalist_app.triage.identity import MAX_REASON_CHARS, MIN_REASON_CHARS


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), validators=[DataRequired()])
    reason = SelectField(_l("Reason for closing"), validators=[Optional()])


class AssignForm(FlaskForm):
    officer = SelectField(_l("Assigned to"), validate_choice=True)


class TerritoryForm(FlaskForm):
    territory = SelectField(_l("Territory"), validate_choice=True)


class MergeForm(FlaskForm):
    other_case = IntegerField(
        _l("Number of the case to merge into this one"),
        validators=[DataRequired(), NumberRange(min=1, max=MAX_ROW_ID)],
    )


class SplitForm(FlaskForm):
    reports = SelectMultipleField(_l("Reports to move to a new case"), validate_choice=True)


class RevealForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the identity is needed for this case"),
        validators=[DataRequired(), Length(min=MIN_REASON_CHARS, max=MAX_REASON_CHARS)],
    )


class ReplyForm(FlaskForm):
    template = HiddenField(validators=[DataRequired(), Length(max=64)])
    message = TextAreaField(
        _l("Message to the reporter"),
        validators=[DataRequired(), Length(max=MAX_REPLY_MESSAGE_CHARS)],
    )
