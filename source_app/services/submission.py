"""Taking a report or a follow-up: seal, store ciphertext, commit, and only then answer.

This is the one place where report plaintext exists on the public host, and it exists
only in this process's memory: the form values are sealed to the recipient set before
anything touches the disk, and attachments arrive here already sealed
(source_app/uploads.py). Every envelope is written and fsynced before the database
commit, and the receipt code exists for the reporter only once the commit returned
(docs/invariants.md, 1 and 4). On any failure everything written is removed.
"""

import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Protocol

from nacl.public import PublicKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.contents import (
    AttachmentRecord,
    IdentitySection,
    ReportBody,
    encode_reporter_key,
    envelope_sha256,
    new_binding,
)
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets, lookup_hash
from crypto.recipients import RecipientSet
from source_app.models import Reporter, Submission, SubmissionBlob
from source_app.services import form_tokens
from source_app.services.clock import current_hour
from source_app.services.status import find_reporter
from source_app.storage import BlobRef, BlobStore


class SealedAttachment(Protocol):
    """An attachment already sealed into an uncommitted blob (source_app/uploads.py)."""

    def finish(self, blob_name: str) -> AttachmentRecord: ...

    def commit(self) -> BlobRef: ...

    def discard(self) -> None: ...


@dataclass(frozen=True)
class Receipt:
    """What the reporter is shown after the commit."""

    code: ReceiptCode
    submission_id: str


def attachment_blob_name(position: int) -> str:
    """``attachment-1`` … ``attachment-N``, as docs/sync-api.md names them."""
    return f"attachment-{position}"


def finish_attachments(attachments: Sequence[SealedAttachment]) -> tuple[AttachmentRecord, ...]:
    """Seal each attachment's trailer; the records go into the body that lists them."""
    return tuple(
        attachment.finish(attachment_blob_name(position))
        for position, attachment in enumerate(attachments, start=1)
    )


def submit_report(
    session: Session,
    store: BlobStore,
    recipients: RecipientSet,
    content: ReportBody,
    identity: IdentitySection | None,
    attachments: Sequence[SealedAttachment] = (),
    form_token: str | None = None,
    kdf_slot: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> Receipt:
    """Seal, store and commit a new report; the receipt exists only if the commit did.

    ``form_token`` is spent in the same commit: :class:`AlreadySubmitted` if a report was
    already committed with it (source_app/services/form_tokens.py). ``kdf_slot`` is held
    around the argon2id derivation alone (the host's concurrency cap), not the writes.

    The code and its keys are derived first, so that the body carries the reporter's
    public key under the seal (the officer host replies to that copy, not to the listed
    one). The code still reaches the reporter only once the commit returned.
    """
    code = ReceiptCode.generate()
    with kdf_slot():
        reporter_secrets = derive_reporter_secrets(code)
    public_key = bytes(reporter_secrets.public_key)
    keys = recipients.public_keys()
    # Body version 2 (docs/envelope.md): one fresh binding sealed in the body and in the
    # identity, the identity envelope's SHA-256 in the body, the body signed.
    binding = new_binding()
    identity_envelope = None
    if identity is not None:
        # Identity keys and the recovery key only, never an intake key (invariant 5).
        identity_envelope = _seal_document(
            replace(identity, binding=binding).to_json(),
            recipients.identity_public_keys(),
            "identity",
        )
    content = replace(
        content,
        reporter_public_key=encode_reporter_key(public_key),
        binding=binding,
        identity_sha256=None if identity_envelope is None else envelope_sha256(identity_envelope),
        reporter_verify_key=b64encode(bytes(reporter_secrets.verify_key)),
    )
    envelopes = {
        "body": _seal_document(content.to_signed_json(reporter_secrets.signing_key), keys, "report")
    }
    if identity_envelope is not None:
        envelopes["identity"] = identity_envelope
    hour = current_hour()
    reporter = Reporter(
        id=secrets.token_hex(16),
        # The hash of the lookup value, never the value itself (docs/receipt.md).
        lookup_hash=lookup_hash(reporter_secrets.lookup_value),
        public_key=public_key,
        created_hour=hour,
    )
    submission = _store_submission(
        session,
        store,
        reporter,
        "report",
        envelopes,
        attachments,
        new_reporter=True,
        form_token=form_token,
    )
    return Receipt(code=code, submission_id=submission.id)


def submit_followup(
    session: Session,
    store: BlobStore,
    recipients: RecipientSet,
    code: ReceiptCode,
    content: ReportBody,
    attachments: Sequence[SealedAttachment] = (),
    form_token: str | None = None,
) -> str:
    """Add to the report ``code`` belongs to; :class:`UnknownCode` if none. Returns its id.

    The body carries the reporter's public key, derived from the code they typed.
    """
    try:
        reporter, reporter_secrets = find_reporter(session, code)
    except BaseException:
        for attachment in attachments:
            attachment.discard()
        raise
    public_key = bytes(reporter_secrets.public_key)
    # Signed with the code's Ed25519 key: the officer host groups it with the case only
    # if it verifies against the key sealed in the first report (docs/envelope.md).
    content = replace(
        content,
        reporter_public_key=encode_reporter_key(public_key),
        binding=new_binding(),
        identity_sha256=None,
        reporter_verify_key=b64encode(bytes(reporter_secrets.verify_key)),
    )
    keys = recipients.public_keys()
    envelopes = {
        "body": _seal_document(
            content.to_signed_json(reporter_secrets.signing_key), keys, "followup"
        )
    }
    submission = _store_submission(
        session, store, reporter, "followup", envelopes, attachments, form_token=form_token
    )
    return submission.id


def _seal_document(document: bytes, keys: Sequence[PublicKey], kind: str) -> bytes:
    return seal_bytes(document, keys, EnvelopeMetadata(kind=kind, content_type="application/json"))


def _store_submission(
    session: Session,
    store: BlobStore,
    reporter: Reporter,
    kind: str,
    envelopes: dict[str, bytes],
    attachments: Sequence[SealedAttachment],
    *,
    new_reporter: bool = False,
    form_token: str | None = None,
) -> Submission:
    """Write every envelope durably, then commit the rows that point at them."""
    stored: list[tuple[str, BlobRef]] = []
    try:
        for name, envelope in envelopes.items():
            stored.append((name, store.put(envelope)))
        for position, attachment in enumerate(attachments, start=1):
            stored.append((attachment_blob_name(position), attachment.commit()))
        submission = Submission(
            id=secrets.token_hex(16),
            reporter_id=reporter.id,
            kind=kind,
            received_hour=current_hour(),
        )
        submission.blobs = [
            SubmissionBlob(name=name, blob_key=ref.key, size=ref.size, sha256=ref.sha256)
            for name, ref in stored
        ]
        if new_reporter:
            session.add(reporter)
        session.add(submission)
        form_tokens.spend_in_transaction(session, form_token)
        session.commit()
    except BaseException as exc:
        session.rollback()
        for _, ref in stored:
            store.delete(ref.key)
        for attachment in attachments:
            attachment.discard()
        if isinstance(exc, IntegrityError) and form_tokens.is_spent(session, form_token):
            raise form_tokens.AlreadySubmitted() from None
        raise
    return submission
