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
