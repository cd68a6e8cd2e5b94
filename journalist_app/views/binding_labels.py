"""What the case page says about a submission whose parts do not match its body.

The codes are journalist_app/triage/binding.py's; each is shown translated, with the
blob it names (``attachment-2``) when it names one.
"""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from journalist_app.triage import binding

PROBLEM_LABELS: dict[str, LazyString] = {
    binding.IDENTITY_UNBOUND: _l(
        "An identity arrived with a report too old to bind one: it is not revealed."
    ),
    binding.IDENTITY_UNEXPECTED: _l(
        "An identity arrived that this report's sealed body does not have: it belongs to "
        "another submission and is not revealed."
    ),
    binding.IDENTITY_MISSING: _l(
        "The reporter gave an identity, but none arrived: the public host dropped it."
    ),
    binding.IDENTITY_ALTERED: _l(
        "The identity that arrived is not the one this report was sent with: it is not revealed."
    ),
    binding.SIGNATURE_INVALID: _l("The reporter's signature on this report does not verify."),
    binding.UNVERIFIED_FOLLOWUP: _l(
        "Unverified follow-up: not signed by the reporter of the first report. Shown as a "
        "separate submission."
    ),
    binding.BINDING_REPLAYED: _l("This submission repeats another one already received."),
    binding.ATTACHMENT_MISSING: _l("File %(name)s is listed by the report but did not arrive."),
    binding.ATTACHMENT_EXTRA: _l("File %(name)s arrived but the report does not list it."),
    binding.ATTACHMENT_ALTERED: _l(
        "File %(name)s is not the file the reporter sent (size or SHA-256 differs)."
    ),
}


def problem_label(code: str) -> str:
    """The translated sentence for one problem code (``kind`` or ``kind:blob-name``)."""
    kind, _sep, name = code.partition(":")
    label = PROBLEM_LABELS.get(kind)
    if label is None:
        return code
    text = str(label)
    return text % {"name": name} if "%(name)s" in text else text
