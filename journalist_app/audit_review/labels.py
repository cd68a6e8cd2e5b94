"""What each audit action is called on the audit page, in the officer's language.

An action another part of the app adds later and forgets here is shown by its code.
"""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

ACTION_LABELS: dict[str, LazyString] = {
    "login.succeeded": _l("Logged in"),
    "login.failed": _l("Failed login"),
    "login.locked": _l("Account locked after failed logins"),
    "login.lockout": _l("A client locked out after failed logins"),
    "logout": _l("Logged out"),
    "session.expired": _l("Session expired"),
    "keys.unlocked": _l("Keys unlocked for a command"),
    "report.opened": _l("Report read"),
    "report.indexed": _l("Report read for triage"),
    "report.unreadable": _l("Report could not be read"),
    "report.reporter_key_mismatch": _l("Reporter key swapped by the public host"),
    "report.binding_problem": _l("Report parts do not match its body"),
    "identity.binding_refused": _l("Identity reveal refused: not bound to its report"),
    "attachment.downloaded": _l("Attachment downloaded"),
    "attachment.thumbnail": _l("Picture preview drawn"),
    "attachment.diagnosed": _l("File diagnostics run"),
    "media.revealed": _l("Picture shown sharp"),
    "identity.revealed": _l("Identity revealed"),
    "case.opened": _l("Case opened"),
    "case.status_changed": _l("Case status changed"),
    "case.assigned": _l("Case assigned"),
    "case.territory_set": _l("Case territory set"),
    "case.merged": _l("Cases merged"),
    "case.split": _l("Case split"),
    "reply.queued": _l("Reply sealed for the reporter"),
    "reply.opened": _l("Reply read in a case thread"),
    "note.added": _l("Internal note added"),
    "note.opened": _l("Internal note read"),
    "search.run": _l("Search"),
    "reporter.muted": _l("Receipt code muted"),
    "hashlist.imported": _l("Hash list imported"),
    "sync.completed": _l("Sync with the public host"),
    "sync.failed": _l("Sync failed"),
    "batch.imported": _l("Batch imported"),
    "batch.exported": _l("Batch exported"),
    "referral.directory_imported": _l("Referral directory imported"),
    "referral.unit_key_created": _l("Unit OpenPGP key created"),
    "referral.built": _l("Referral packet built"),
    "referral.exported": _l("Referral packet sent"),
    "referral.acknowledged": _l("Referral acknowledged"),
    "referral.content_removed": _l("Reported content removed by the platform"),
    "referral.evidence_opened": _l("Report or file opened for a referral"),
    "keys.initialised": _l("Unit keys created"),
    "keys.granted": _l("Keys granted"),
    "keys.rotated": _l("Intake key rotated"),
    "keys.identity_rotated": _l("Identity key rotated"),
    "keys.recovered": _l("Keys recovered"),
    "recipient_set.issued": _l("Recipient set issued"),
    "account.created": _l("Account created"),
    "account.removed": _l("Account removed"),
    "account.passphrase_changed": _l("Passphrase changed"),
    "account.passphrase_reset": _l("Passphrase reset"),
    "account.totp_reset": _l("Two-factor reset"),
    "account.unlocked": _l("Account unlocked"),
    "account.reset_approved": _l("Passphrase reset approved by a supervisor"),
    "security_key.registered": _l("Security key registered"),
    "security_key.removed": _l("Security key removed"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action
