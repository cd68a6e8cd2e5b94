"""Typed failures of the officer services, mapped to messages only at the edges (CLI, views).

Each message is a plain English sentence fit for the CLI; the web views show their own
translated text per type instead.
"""


class OfficerError(Exception):
    """Base of every expected failure of the officer host."""


class KeysAlreadyInitialised(OfficerError):
    """``keys init`` on a data dir that already holds unit keys."""


class KeysNotInitialised(OfficerError):
    """An operation needs unit keys and there are none yet."""


class BadCredentials(OfficerError):
    """Unknown officer or wrong passphrase: deliberately not told apart."""


class OfficerExists(OfficerError):
    """The username is taken."""


class InvalidUsername(OfficerError):
    """A username outside the allowed characters or length."""


class WeakPassphrase(OfficerError):
    """A new passphrase is too short to guard the unit's keys."""


class MissingKey(OfficerError):
    """The unlocked keyring lacks the key an operation needs."""


class CorruptGrant(OfficerError):
    """A stored grant does not open or does not match its unit key."""


class ReportNotFound(OfficerError):
    """No report with this id is stored."""


class ReportUnreadable(OfficerError):
    """A stored report does not decrypt with the keys held, or its content is malformed."""


class InvalidReply(OfficerError):
    """A reply with an unknown status or reason, or too long."""


class ReporterKeyMismatch(OfficerError):
    """The public host listed a reporter key other than the one sealed in the report."""


class ReporterKeyUnchecked(OfficerError):
    """The report's body has not been read yet, so its sealed reporter key is unknown."""


class SyncError(OfficerError):
    """Base of failures talking to the public host's sync API."""


class SyncUnreachable(SyncError):
    """The public host did not answer: wrong URL, host down, network or onion service down."""


class SyncDeadlineExceeded(SyncUnreachable):
    """The public host answered too slowly: a request or the whole run passed its deadline."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class SyncRefused(SyncError):
    """The public host refused the signed request (401); ``code`` is its error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class SyncProtocolError(SyncError):
    """An answer that does not follow docs/sync-api.md."""


class BlobMismatch(SyncError):
    """A fetched blob's size or SHA-256 differs from the listing: it is not stored."""


class UnknownReporter(SyncError):
    """The public host knows no reporter with this id (reply push, 404)."""


# --- accounts and accountability (roles.py, authentication.py, accounts.py, audit.py) ---


class PermissionDenied(OfficerError):
    """The officer's role does not hold the permission the action needs (roles.py)."""


class AccountLocked(BadCredentials):
    """Too many failed logins: refused until ``until`` (naive UTC) without checking anything."""

    def __init__(self, message: str, until: object) -> None:
        super().__init__(message)
        self.until = until


class WrongSecondFactor(BadCredentials):
    """A missing, wrong or already used TOTP code."""


class OfficerNotFound(OfficerError):
    """No officer with this username (an admin action on an account)."""


class AdminExists(OfficerError):
    """``admin create`` makes the first admin only; later ones are added by an admin."""


class KeyWouldBeLost(OfficerError):
    """Removing this officer would leave an active unit key with no holder."""


class RecoveryFailed(OfficerError):
    """The recovery secret is malformed or is not the unit's recovery key."""
