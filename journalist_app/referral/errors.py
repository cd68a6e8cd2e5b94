"""Typed failures of referrals, each with a ``code`` the views translate (views/referral.py)."""

from journalist_app.errors import OfficerError


class ReferralRefused(OfficerError):
    """A referral step that cannot go ahead; ``code`` says why, the message says what to do.

    Codes: ``no_unit_key``, ``no_key`` (a partner has no key in the directory),
    ``key_refused`` (expired, revoked or wrong fingerprint), ``no_territory``,
    ``unknown_partner``, ``unknown_qualification``, ``override_reason``,
    ``identity_not_approved``, ``no_identity``, ``identity_not_bound``, ``not_indexed``,
    ``evidence_changed``,
    ``wrong_status``, ``bad_acknowledgement``, ``not_found``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
