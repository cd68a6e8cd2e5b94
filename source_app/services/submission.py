"""Taking a report: seal in memory, store ciphertext, commit, and only then issue a code.

This is the one place where report plaintext exists on the public host, and it exists
only in this process's memory: the form values are sealed to the recipient set before
anything touches the disk (DESIGN.md invariants 1 and 4).
"""

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from crypto.contents import IdentitySection, ReportBody
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from crypto.recipients import RecipientSet
from source_app.models import Reporter, Submission, SubmissionBlob
from source_app.services.clock import current_hour
from source_app.storage import BlobRef, BlobStore


@dataclass(frozen=True)
class Receipt:
    """What the reporter is shown after the commit."""

    code: ReceiptCode
    submission_id: str


def submit_report(
    session: Session,
    store: BlobStore,
    recipients: RecipientSet,
    content: ReportBody,
    identity: IdentitySection | None,
) -> Receipt:
    """Seal, store and commit a new report; the receipt exists only if the commit did."""
    keys = recipients.public_keys()
    envelopes = {
        "body": seal_bytes(
            content.to_json(),
            keys,
            EnvelopeMetadata(kind="report", content_type="application/json"),
        )
    }
    if identity is not None:
        envelopes["identity"] = seal_bytes(
            identity.to_json(),
            keys,
            EnvelopeMetadata(kind="identity", content_type="application/json"),
        )
    code = ReceiptCode.generate()
    reporter_secrets = derive_reporter_secrets(code)
    stored: list[tuple[str, BlobRef]] = []
    try:
        for name, envelope in envelopes.items():
            stored.append((name, store.put(envelope)))
        hour = current_hour()
        reporter = Reporter(
            id=secrets.token_hex(16),
            lookup_hash=reporter_secrets.lookup_hash,
            public_key=bytes(reporter_secrets.private_key.public_key),
            created_hour=hour,
        )
        submission = Submission(
            id=secrets.token_hex(16), reporter_id=reporter.id, kind="report", received_hour=hour
        )
        submission.blobs = [
            SubmissionBlob(name=name, blob_key=ref.key, size=ref.size, sha256=ref.sha256)
            for name, ref in stored
        ]
        session.add(reporter)
        session.add(submission)
        session.commit()
    except BaseException:
        session.rollback()
        for _, ref in stored:
            store.delete(ref.key)
        raise
    return Receipt(code=code, submission_id=submission.id)
