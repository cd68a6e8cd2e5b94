"""Typed failures of the crypto layer.

Callers map these to user-facing messages at the edge; nothing here is shown raw.
"""


class CryptoError(Exception):
    """Base of every failure raised by :mod:`crypto`."""


class EnvelopeError(CryptoError):
    """An envelope is malformed, tampered with, truncated or reordered."""


class NoMatchingRecipient(EnvelopeError):
    """None of the given private keys is a recipient of the envelope."""


class WrongPassphrase(CryptoError):
    """A wrapped secret did not open with the given passphrase."""


class WrappedKeyError(CryptoError):
    """A wrapped key file is malformed or of an unknown version."""


class SignatureError(CryptoError):
    """A signed document or request failed verification."""


class UnsignedRequest(SignatureError):
    """A request lacks the signature headers, or they are malformed."""


class StaleRequest(SignatureError):
    """A signed request's timestamp lies outside the accepted window."""


class ReplayedRequest(SignatureError):
    """A signed request's nonce has been seen before."""


class InvalidReceiptCode(CryptoError):
    """A receipt code is not twenty digits after normalisation."""


class BatchError(CryptoError):
    """A batch file (docs/batch.md) was refused; nothing in it may be used."""


class MalformedBatch(BatchError):
    """The file does not follow the batch grammar: not a batch, or broken structure."""


class TruncatedBatch(BatchError):
    """The file ends before its signature, or entries are missing."""


class ReorderedBatch(BatchError):
    """An entry is not at the position its descriptor binds it to."""


class ForgedBatch(BatchError):
    """The digest or the signature does not verify, or the signer is not trusted."""


class MisdirectedBatch(BatchError):
    """A batch of the other direction: inbound where outbound is expected, or the reverse."""


class ReplayedBatch(BatchError):
    """A batch already imported, or not newer than the last one imported."""


class SyncListingError(CryptoError):
    """A sync listing (docs/sync-api.md), or one of its items, breaks the contract.

    ``reason`` is a stable code, the one the listing vectors name
    (tests/vectors/sync_listing_v1.json); ``submission_id`` is the item's id when it had a
    well-formed one, so that the officer host can record the refusal and skip past it.
    """

    def __init__(self, reason: str, message: str, submission_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.submission_id = submission_id


class CategoriesFileError(CryptoError, ValueError):
    """The categories file (docs/categories.md) cannot be used; the message names the piece."""


class TransparencyPageError(CryptoError):
    """A transparency page that may not be published (crypto/transparency_page.py).

    ``reason`` is a stable code, the one the public host answers with: ``bad_name``,
    ``too_large``, ``not_a_page``, ``scripted`` or ``not_static``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
