"""Typed failures of triage, mapped to translated messages in journalist_app/views/cases.py."""

from journalist_app.errors import OfficerError


class TriageError(OfficerError):
    """Base of every expected triage failure."""


class CaseNotFound(TriageError):
    """No case with this number (or it is not the case the report belongs to)."""


class InvalidTransition(TriageError):
    """The workflow does not allow this status change from the current status."""


class MissingCloseReason(TriageError):
    """Closing a case needs one of the closing reasons of crypto/contents.py."""


class GroupingRefused(TriageError):
    """A merge or split that would lose or mix up reports."""


class UnknownTerritory(TriageError):
    """A territory code that is not in journalist_app/data/territories.csv."""


class UnknownOfficer(TriageError):
    """Assigning to an officer who does not exist."""


class RevealRefused(TriageError):
    """An identity reveal without a sufficient reason, or with nothing to reveal."""


class IdentityNotBound(RevealRefused):
    """The identity section is not the one the report's body binds (moved, dropped or
    replaced by the public host, or a body too old to bind one): it is never shown."""


class IdentityKeyMissing(RevealRefused):
    """The officer holds no identity key that opens this identity section.

    Identity sections are sealed to the identity keys and the recovery key only; the
    intake keys that open report bodies never open them (docs/invariants.md, 5).
    """


class AttachmentRefused(TriageError):
    """An attachment that does not open, or is too large to serve or to picture."""


class UnknownReplyTemplate(TriageError):
    """A reply template id that is not in journalist_app/triage/reply_templates.py."""
