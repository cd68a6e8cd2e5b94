"""The public forms: parsing and validation only, every message translated.

Files never pass through these forms: they are sealed while the request is read
(source_app/uploads.py), and the view tells a form how many arrived.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from source_app.categories import DEFAULT_CATEGORIES, Category
from source_app.identity import (
    InvalidDetail,
    ascii_digits,
    normalise_city,
    normalise_email,
    normalise_full_name,
    normalise_national_id,
    normalise_phone,
)
from source_app.services.form_tokens import MAX_FORM_TOKEN_LENGTH, new_form_token
from source_app.urls import (
    MAX_URL_LENGTH,
    MAX_URLS,
    InvalidUrl,
    UrlProblem,
    normalise_url,
    split_pasted_urls,
)

MAX_DESCRIPTION_LENGTH = 20_000
MAX_NAME_LENGTH = 200
MAX_PLATFORM_LENGTH = 100
MAX_ACCOUNT_LENGTH = 300
MAX_CODE_LENGTH = 80
# Reports about the sexual exploitation of children must never be held back for
# lack of a name: children and frightened parents report too.
NO_IDENTITY_REQUIRED = frozenset({"child_abuse"})
EARLIEST_SEEN_ON = date(1990, 1, 1)

URL_PROBLEMS = {
    UrlProblem.EMPTY: _l("it is empty"),
    UrlProblem.TOO_LONG: _l("it is too long"),
    UrlProblem.NOT_WEB: _l("only web addresses (http or https) can be reported here"),
    UrlProblem.NO_HOST: _l("the site's name is missing"),
    UrlProblem.BAD_HOST: _l("this is not a site's name"),
    UrlProblem.BAD_PORT: _l("the port number is wrong"),
    UrlProblem.CONTROL: _l("it contains invisible characters"),
}


def _no_control_characters(_form: Any, field: Any) -> None:
    value = field.data or ""
    if any(ord(c) < 32 and c not in "\t\r\n" for c in value):
        raise ValidationError(_l("This field contains characters that are not allowed."))


class UrlListField(TextAreaField):
    """Addresses pasted one per line (or separated by spaces), normalised on validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls: tuple[str, ...] = ()

    def pre_validate(self, form: Any) -> None:
        tokens = split_pasted_urls(self.data or "")
        if len(tokens) > MAX_URLS:
            raise ValidationError(_l("Give at most %(count)s addresses.", count=MAX_URLS))
        urls: list[str] = []
        problems: list[str] = []
        for token in tokens:
            try:
                url = normalise_url(token)
            except InvalidUrl as exc:
                shown = token if len(token) <= 60 else token[:57] + "…"
                problems.append(
                    str(
                        _l(
                            "“%(text)s” is not a web address: %(reason)s.",
                            text=shown,
                            reason=URL_PROBLEMS[exc.problem],
                        )
                    )
                )
                continue
            if url not in urls:
                urls.append(url)
        if problems:
            # WTForms adds the raised message to ``errors``: the others go in first.
            self.errors.extend(problems[:-1])
            raise ValidationError(problems[-1])
        self.urls = tuple(urls)


class SeenOnField(StringField):
    """An optional date: ``YYYY-MM-DD`` (what a date picker sends) or ``DD/MM/YYYY``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.date: date | None = None

    def pre_validate(self, form: Any) -> None:
        text = ascii_digits((self.data or "").strip())
        self.date = None
        if not text:
            return
        parsed = None
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
            try:
                parsed = datetime.strptime(text, pattern).date()
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValidationError(_l("Enter a date such as 2026-11-28, or leave it empty."))
        # The reporter's today may already be tomorrow in UTC, never the day after.
        if parsed > datetime.now(UTC).date() + timedelta(days=1):
            raise ValidationError(_l("This date is in the future."))
        if parsed < EARLIEST_SEEN_ON:
            raise ValidationError(_l("This date is too far in the past."))
        self.date = parsed


def _detail(normalise: Any, message: Any) -> Any:
    """A validator that puts a field's value in its standard form, or explains why not."""

    def check(_form: Any, field: Any) -> None:
        value = (field.data or "").strip()
        if not value:
            field.data = ""
            return
        try:
            field.data = normalise(value)
        except InvalidDetail as exc:
            raise ValidationError(message) from exc

    return check


class FileNameChoice:
    """Mixed into forms with attachments: send files as ``attachment-1.jpg``… instead of
    their names. Read by the host while the files arrive (source_app/uploads.py), which
    is why the form puts the box before the file input; kept here for the page sent back."""

    rename_files = BooleanField(
        _l("Send my files as attachment-1, attachment-2… instead of their names")
    )


class IdentityFields:
    """Mixed into forms that offer the identified option."""

    identity = RadioField(
        _l("Do you want to give your identity?"),
        choices=[
            SelectChoice("anonymous", _l("No, stay anonymous")),
            SelectChoice("identified", _l("Yes, give my identity")),
        ],
        default="anonymous",
        validators=[DataRequired(message=_l("Choose whether to give your identity."))],
    )
    full_name = StringField(
        _l("Full name"),
        validators=[
            Length(max=MAX_NAME_LENGTH, message=_l("This name is too long.")),
            _detail(normalise_full_name, _l("Enter your name in letters.")),
        ],
    )
    national_id = StringField(
        _l("National ID card number (CIN)"),
        validators=[
            Length(max=40, message=_l("This number is too long.")),
            _detail(
                normalise_national_id,
                _l("A CIN number is one or two letters followed by digits, for example AB123456."),
            ),
        ],
    )
    phone = StringField(
        _l("Phone number"),
        validators=[
            Length(max=40, message=_l("This number is too long.")),
            _detail(
                normalise_phone,
                _l(
                    "Enter a Moroccan number such as 06 12 34 56 78, or an international "
                    "number starting with + and the country code."
                ),
            ),
        ],
    )
    email = StringField(
        _l("E-mail address"),
        validators=[
            Length(max=254, message=_l("This address is too long.")),
            _detail(normalise_email, _l("Enter an e-mail address such as name@example.com.")),
        ],
    )
    city = StringField(
        _l("City or town"),
        validators=[
            Length(max=100, message=_l("This name is too long.")),
            _detail(normalise_city, _l("Enter the name of a city or town.")),
        ],
    )


class ReportForm(FlaskForm, IdentityFields, FileNameChoice):
    """A report: what, where, when, the files (counted by the view) and who, if they say."""

    # One-time token of this form (source_app/services/form_tokens.py): a second POST of
    # the same form files nothing. Made when the form is first shown, kept on re-display.
    form_token = HiddenField(
        default=new_form_token,
        validators=[Optional(), Length(max=MAX_FORM_TOKEN_LENGTH)],
    )

    category = SelectField(
        _l("What kind of content is it?"),
        choices=[SelectChoice(c.id, c.label) for c in DEFAULT_CATEGORIES],
        validators=[DataRequired(message=_l("Choose a category."))],
        validate_choice=True,
    )
    urls = UrlListField(
        _l("Addresses (URLs) of the content"),
        validators=[Length(max=MAX_URLS * (MAX_URL_LENGTH + 2), message=_l("Too much text."))],
    )
    platform = StringField(
        _l("Platform or app"),
        validators=[
            Optional(),
            Length(max=MAX_PLATFORM_LENGTH, message=_l("This name is too long.")),
            _no_control_characters,
        ],
    )
    account = StringField(
        _l("Account, page, channel or group that published it"),
        validators=[
            Optional(),
            Length(max=MAX_ACCOUNT_LENGTH, message=_l("This name is too long.")),
            _no_control_characters,
        ],
    )
    seen_on = SeenOnField(_l("When did you see it? (optional)"))
    description = TextAreaField(
        _l("What did you see?"),
        validators=[
            DataRequired(message=_l("Describe what you saw.")),
            Length(max=MAX_DESCRIPTION_LENGTH, message=_l("The description is too long.")),
            _no_control_characters,
        ],
    )
    good_faith = BooleanField(
        _l("I make this report in good faith: to the best of my knowledge, what I say is true."),
        validators=[DataRequired(message=_l("Confirm that you make this report in good faith."))],
    )

    # Set by the view before validating: how many files were sealed with the form.
    attachment_count = 0

    def __init__(
        self, *args: Any, categories: Sequence[Category] = DEFAULT_CATEGORIES, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # The host's set (IBLAGH_CATEGORIES_FILE): only its ids are accepted.
        self.category.choices = [SelectChoice(c.id, c.label) for c in categories]

    def validate(self, extra_validators: Any = None) -> bool:
        # Rules across fields, checked after each field's own.
        valid: bool = super().validate(extra_validators)
        if not (self.urls.urls or (self.account.data or "").strip() or self.attachment_count):
            if not self.urls.errors:
                self.urls.errors = [
                    _l(
                        "Give the address of the content, the account that published it, "
                        "or attach a screenshot."
                    )
                ]
            valid = False
        if self.identity.data != "identified" and self.identity_typed():
            # Never dropped silently (issue 10, item 9): the reporter decides, every
            # field kept on the page they get back.
            self.identity.errors = [
                _l(
                    "You chose to stay anonymous but typed details about yourself. Choose "
                    "“Yes, give my identity” to send them, or clear them to stay anonymous."
                )
            ]
            valid = False
        if self.identity.data == "identified" and self.category.data not in NO_IDENTITY_REQUIRED:
            if not self.full_name.data and not self.full_name.errors:
                self.full_name.errors = [_l("Enter your name, or choose to stay anonymous.")]
                valid = False
            if not (self.phone.data or self.email.data) and not (
                self.phone.errors or self.email.errors
            ):
                self.phone.errors = [
                    _l("Give a phone number or an e-mail address so the unit can reach you.")
                ]
                valid = False
        return valid

    def identity_typed(self) -> bool:
        """Any identity detail typed, whatever the choice (before or after normalising)."""
        details = (self.full_name, self.national_id, self.phone, self.email, self.city)
        return any((field.raw_data or [""])[0].strip() or field.data for field in details)

    def identity_given(self) -> bool:
        """Identified, with at least one detail filled in."""
        details = (self.full_name, self.national_id, self.phone, self.email, self.city)
        return self.identity.data == "identified" and any(field.data for field in details)


class CodeField(StringField):
    """A receipt code as typed: checked for shape by the view (crypto.receipt)."""


class StatusForm(FlaskForm):
    """The receipt code, as the reporter types it."""

    code = CodeField(
        _l("Your receipt code"),
        validators=[
            DataRequired(message=_l("Enter your receipt code.")),
            Length(max=MAX_CODE_LENGTH, message=_l("A receipt code is twenty digits.")),
        ],
    )


class FollowupForm(FlaskForm, FileNameChoice):
    """More from the same reporter: a message, more addresses, more files."""

    # One-time token of this form, as on the report form: a second POST adds nothing.
    form_token = HiddenField(
        default=new_form_token,
        validators=[Optional(), Length(max=MAX_FORM_TOKEN_LENGTH)],
    )

    code = CodeField(
        _l("Your receipt code"),
        validators=[
            DataRequired(message=_l("Enter your receipt code.")),
            Length(max=MAX_CODE_LENGTH, message=_l("A receipt code is twenty digits.")),
        ],
    )
    message = TextAreaField(
        _l("Your message or new information"),
        validators=[
            Length(max=MAX_DESCRIPTION_LENGTH, message=_l("The message is too long.")),
            _no_control_characters,
        ],
    )
    urls = UrlListField(
        _l("More addresses (optional)"),
        validators=[Length(max=MAX_URLS * (MAX_URL_LENGTH + 2), message=_l("Too much text."))],
    )

    attachment_count = 0

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        if not ((self.message.data or "").strip() or self.urls.urls or self.attachment_count):
            if not self.message.errors:
                self.message.errors = [_l("Write a message, give an address or attach a file.")]
            valid = False
        return valid


class ReceiptDownloadForm(FlaskForm):
    """The code posted back to get it as a text file; it is never stored."""

    code = HiddenField(validators=[DataRequired(), Length(max=MAX_CODE_LENGTH)])
