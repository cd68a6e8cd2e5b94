"""What the envelopes hold: the JSON documents both ends write and read (docs/sync-api.md).

These are wire formats like the envelope itself, so they live here, shared by the
public host (which writes report bodies and reads replies) and the officer host (which
reads report bodies and writes replies). Readers require ``v`` and ignore fields they
do not know, so later versions can add fields.
"""

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from nacl.utils import random

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError

FORMAT_VERSION: Final = 1
STATUSES: Final = ("received", "under_review", "referred", "closed", "ended")
CLOSE_REASONS: Final = (
    "not_illegal",
    "duplicate",
    "insufficient_information",
    "referred",
    "handled",
)
MAX_REPLY_MESSAGE_CHARS: Final = 20_000
REPORTER_KEY_BYTES: Final = 32
# Report body version 2 (docs/envelope.md, "Report body, version 2").
BODY_VERSION: Final = 2
BODY_SIGNATURE_PREFIX: Final = b"iblagh-body/2"
BINDING_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64


class ContentError(CryptoError):
    """An envelope opened, but what it holds is not a valid document of its kind."""


def _dump(document: dict[str, Any], version: int = FORMAT_VERSION) -> bytes:
    return json.dumps({"v": version, **document}, ensure_ascii=False).encode("utf-8")


def new_binding() -> str:
    """A fresh per-submission binding: base64 of 32 random bytes."""
    return b64encode(random(BINDING_BYTES))


def _b64_field(value: str, length: int, what: str) -> bytes:
    try:
        return b64decode(value, length=length)
    except CryptoError as exc:
        raise ContentError(f"the {what} is not base64 of {length} bytes") from exc


def _load(raw: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ContentError(f"the {what} is not JSON") from exc
    if not isinstance(document, dict):
        raise ContentError(f"the {what} is not a JSON object")
    version = document.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ContentError(f"the {what} has no version")
    return document


def _text(document: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = document.get(key, default)
    if not isinstance(value, str) or not _is_unicode(value):
        raise ContentError(f"the {what}'s {key} is not text")
    return value


def _is_unicode(value: str) -> bool:
    """False for lone surrogates, which JSON escapes can carry but no page can show."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A follow-up's body is a ReportBody with this category: the reporter adds to the
# report their receipt code belongs to, whose category stands.
FOLLOWUP_CATEGORY: Final = "followup"


@dataclass(frozen=True)
class AttachmentRecord:
    """What the body says about one attachment envelope, so a dropped one is noticed."""

    blob: str
    name: str
    content_type: str
    size: int
    sha256: str

    def to_document(self) -> dict[str, Any]:
        return {
            "blob": self.blob,
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_document(cls, value: object) -> "AttachmentRecord":
        if not isinstance(value, dict):
            raise ContentError("an attachment record is not a JSON object")
        size = value.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ContentError("an attachment record's size is not a number")
        return cls(
            blob=_text(value, "blob", "attachment record"),
            name=_text(value, "name", "attachment record", ""),
            content_type=_text(value, "type", "attachment record", ""),
            size=size,
            sha256=_text(value, "sha256", "attachment record", ""),
        )


@dataclass(frozen=True)
class ReportBody:
    """The ``body`` envelope of a report: what the reporter saw, never who they are.

    Version 1 fields added after the first release (``platform``, ``account``,
    ``seen_on``, ``good_faith``, ``attachments``, ``reporter_public_key``) are optional
    on reading.

    ``reporter_public_key`` is the base64 of the reporter's X25519 public key, the one
    replies are sealed to. The public host also lists it beside the envelopes, but only
    this copy is sealed: the officer host replies to it, so a public host that swaps the
    listed key cannot redirect the replies of a real report (docs/invariants.md, 6).
    """

    category: str
    urls: tuple[str, ...]
    description: str
    language: str
    platform: str = ""
    account: str = ""
    seen_on: str = ""  # ISO date (YYYY-MM-DD) or ""
    good_faith: bool = False
    attachments: tuple[AttachmentRecord, ...] = ()
    reporter_public_key: str = ""
    # Version 2 (docs/envelope.md, "Report body, version 2"); "" / None in version 1.
    binding: str = ""
    identity_sha256: str | None = None
    reporter_verify_key: str = ""
    # Set by from_json for a version 2 wrapper: the exact signed content and signature.
    signed_content: bytes = field(default=b"", repr=False, compare=False)
    signature: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.reporter_public_key:
            reporter_key_bytes(self.reporter_public_key)
        if self.binding:
            _b64_field(self.binding, BINDING_BYTES, "report's binding")
        if self.reporter_verify_key:
            _b64_field(self.reporter_verify_key, REPORTER_KEY_BYTES, "report's verify key")
        if self.identity_sha256 is not None and not _is_hex_digest(self.identity_sha256):
            raise ContentError("the report's identity sha256 is not 64 lowercase hex digits")

    @property
    def version(self) -> int:
        """2 for a bound, signed body; 1 for a body written before version 2."""
        return BODY_VERSION if self.binding else FORMAT_VERSION

    def signature_valid(self, verify_key: bytes | str | None) -> bool:
        """True only when this body came signed and the signature verifies with the key."""
        if not self.signature or not self.signed_content or not verify_key:
            return False
        raw = (
            _b64_field(verify_key, REPORTER_KEY_BYTES, "verify key")
            if isinstance(verify_key, str)
            else verify_key
        )
        try:
            VerifyKey(raw).verify(BODY_SIGNATURE_PREFIX + self.signed_content, self.signature)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True

    def to_signed_json(self, signing_key: SigningKey) -> bytes:
        """The version 2 wrapper: the document as text, signed by the reporter's key."""
        if not self.binding or not self.reporter_verify_key:
            raise ContentError("a version 2 body needs a binding and a verify key")
        content = self._document_json(BODY_VERSION)
        signature = signing_key.sign(BODY_SIGNATURE_PREFIX + content).signature
        return json.dumps(
            {
                "v": BODY_VERSION,
                "content": content.decode("utf-8"),
                "signature": b64encode(signature),
            },
            ensure_ascii=False,
        ).encode("utf-8")

    def reporter_key(self) -> bytes | None:
        """The reporter's raw 32-byte key, or None for a body written without it."""
        if not self.reporter_public_key:
            return None
        return reporter_key_bytes(self.reporter_public_key)

    def to_json(self) -> bytes:
        """The version 1 document (unsigned); see :meth:`to_signed_json` for version 2."""
        return self._document_json(FORMAT_VERSION)

    def _document_json(self, version: int) -> bytes:
        bound: dict[str, Any] = {}
        if version >= BODY_VERSION:
            bound = {
                "binding": self.binding,
                "identity": (
                    None if self.identity_sha256 is None else {"sha256": self.identity_sha256}
                ),
                "reporter_verify_key": self.reporter_verify_key,
            }
        return _dump(
            {
                "category": self.category,
                "urls": list(self.urls),
                "description": self.description,
                "language": self.language,
                "platform": self.platform,
                "account": self.account,
                "seen_on": self.seen_on,
                "good_faith": self.good_faith,
                "attachments": [record.to_document() for record in self.attachments],
                **(
                    {"reporter_public_key": self.reporter_public_key}
                    if self.reporter_public_key
                    else {}
                ),
                **bound,
            },
            version,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "ReportBody":
        """A version 1 document or a version 2 wrapper (its signature is kept, not checked)."""
        document = _load(raw, "report body")
        if document["v"] < BODY_VERSION:
            return cls._from_document(document)
        content = document.get("content")
        signature = document.get("signature")
        if not isinstance(content, str) or not _is_unicode(content):
            raise ContentError("the report body's content is not text")
        if not isinstance(signature, str):
            raise ContentError("the report body's signature is not text")
        signature_bytes = _b64_field(signature, SIGNATURE_BYTES, "report body's signature")
        signed_content = content.encode("utf-8")
        inner = _load(signed_content, "report body")
        if inner["v"] != BODY_VERSION:
            raise ContentError("the report body's content is not version 2")
        binding = _text(inner, "binding", "report body")
        verify_key = _text(inner, "reporter_verify_key", "report body")
        if not binding or not verify_key or "identity" not in inner:
            raise ContentError("the report body lacks its binding, identity or verify key")
        identity = inner["identity"]
        if identity is not None and (
            not isinstance(identity, dict) or not isinstance(identity.get("sha256"), str)
        ):
            raise ContentError("the report body's identity is not null or a digest")
        body = cls._from_document(inner)
        return replace(
            body,
            binding=binding,
            identity_sha256=None if identity is None else identity["sha256"],
            reporter_verify_key=verify_key,
            signed_content=signed_content,
            signature=signature_bytes,
        )

    @classmethod
    def _from_document(cls, document: dict[str, Any]) -> "ReportBody":
        category = _text(document, "category", "report body")
        if not category:
            raise ContentError("the report body has no category")
        urls = document.get("urls", [])
        if not isinstance(urls, list) or not all(
            isinstance(url, str) and _is_unicode(url) for url in urls
        ):
            raise ContentError("the report's URLs are not a list of text")
        good_faith = document.get("good_faith", False)
        if not isinstance(good_faith, bool):
            raise ContentError("the report's good_faith is not true or false")
        attachments = document.get("attachments", [])
        if not isinstance(attachments, list):
            raise ContentError("the report's attachments are not a list")
        return cls(
            category=category,
            urls=tuple(urls),
            description=_text(document, "description", "report body", ""),
            language=_text(document, "language", "report body", ""),
            platform=_text(document, "platform", "report body", ""),
            account=_text(document, "account", "report body", ""),
            seen_on=_text(document, "seen_on", "report body", ""),
            good_faith=good_faith,
            attachments=tuple(AttachmentRecord.from_document(a) for a in attachments),
            reporter_public_key=_text(document, "reporter_public_key", "report body", ""),
        )


def _is_hex_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def envelope_sha256(envelope: bytes) -> str:
    """Lowercase hex SHA-256 of an envelope's bytes, as a body's ``identity`` names it."""
    return hashlib.sha256(envelope).hexdigest()


def reporter_key_bytes(value: str) -> bytes:
    """The 32 bytes a body's ``reporter_public_key`` encodes; ContentError otherwise."""
    try:
        return b64decode(value, length=REPORTER_KEY_BYTES)
    except CryptoError as exc:
        raise ContentError("the report's reporter_public_key is not a base64 32-byte key") from exc


def encode_reporter_key(raw: bytes) -> str:
    """What a body carries as ``reporter_public_key`` for the raw 32-byte key ``raw``."""
    if len(raw) != REPORTER_KEY_BYTES:
        raise ContentError("a reporter public key is 32 bytes")
    return b64encode(raw)


@dataclass(frozen=True)
class IdentitySection:
    """The ``identity`` envelope, sealed apart from the body (docs/invariants.md, 5).

    Every detail is optional: the public host checks which ones a report needs.
    """

    full_name: str = field(default="", repr=False)
    national_id: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    city: str = field(default="", repr=False)
    # Version 2: the body's binding (docs/envelope.md); "" in a version 1 section.
    binding: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.binding:
            _b64_field(self.binding, BINDING_BYTES, "identity's binding")

    def to_json(self) -> bytes:
        return _dump(
            {
                **({"binding": self.binding} if self.binding else {}),
                "full_name": self.full_name,
                "national_id": self.national_id,
                "phone": self.phone,
                "email": self.email,
                "city": self.city,
            },
            BODY_VERSION if self.binding else FORMAT_VERSION,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "IdentitySection":
        document = _load(raw, "identity section")
        binding = ""
        if document["v"] >= BODY_VERSION:
            binding = _text(document, "binding", "identity")
            if not binding:
                raise ContentError("the identity section has no binding")
        return cls(
            binding=binding,
            **{
                key: _text(document, key, "identity", "")
                for key in ("full_name", "national_id", "phone", "email", "city")
            },
        )


@dataclass(frozen=True)
class ReplyContent:
    """A reply envelope: a status change, a closing reason, a message, or several."""

    sent_at: str
    status: str | None = None
    reason: str | None = None
    message: str | None = None

    def check(self) -> None:
        """Refuse what a reporter's page could not show."""
        if self.status is not None and self.status not in STATUSES:
            raise ContentError("unknown status")
        if self.reason is not None and self.reason not in CLOSE_REASONS:
            raise ContentError("unknown reason")
        if self.message is not None and len(self.message) > MAX_REPLY_MESSAGE_CHARS:
            raise ContentError("message too long")
        if self.status is None and self.reason is None and not self.message:
            raise ContentError("a reply needs a status, a reason or a message")

    def to_json(self) -> bytes:
        self.check()
        return _dump(
            {
                "sent_at": self.sent_at,
                "status": self.status,
                "reason": self.reason,
                "message": self.message,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "ReplyContent":
        document = _load(raw, "reply")
        values: dict[str, str | None] = {}
        for key in ("status", "reason", "message"):
            value = document.get(key)
            if value is not None and not isinstance(value, str):
                raise ContentError(f"the reply's {key} is not text")
            values[key] = value
        reply = cls(sent_at=_text(document, "sent_at", "reply", ""), **values)
        reply.check()
        return reply
