"""What the public host stores: ciphertext references, lookup hashes and public keys.

Nothing here can hold a plaintext byte of a report: report content lives only in
envelopes in the blob store, and a row says where, how big and which hash.
Times are kept to the hour, so a seized database says little about when anyone wrote.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Reporter(Base):
    """A receipt code's footprint: the hash of its lookup value and the reporter's public key.

    ``lookup_hash`` is SHA-256("iblagh-lookup/2" || lookup value), the lookup value
    being derived from the code with argon2id and libsodium's KDF (docs/receipt.md).
    """

    __tablename__ = "reporters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lookup_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_hour: Mapped[datetime] = mapped_column(DateTime)


class Submission(Base):
    """A report or follow-up awaiting the officer host; deleted once acknowledged."""

    __tablename__ = "submissions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("reporters.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_hour: Mapped[datetime] = mapped_column(DateTime)
    blobs: Mapped[list["SubmissionBlob"]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="SubmissionBlob.name"
    )


class SubmissionBlob(Base):
    """One envelope of a submission (body, identity, attachment) in the blob store."""

    __tablename__ = "submission_blobs"

    submission_seq: Mapped[int] = mapped_column(
        ForeignKey("submissions.seq", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    blob_key: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    submission: Mapped[Submission] = relationship(back_populates="blobs")


class Reply(Base):
    """An envelope from the officers to a reporter: a message and/or a status change."""

    __tablename__ = "replies"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("reporters.id"), index=True)
    blob_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_hour: Mapped[datetime] = mapped_column(DateTime)


class RecipientSetSerial(Base):
    """Every recipient-set serial this host has run on: an older set is refused (rollback)."""

    __tablename__ = "recipient_set_serials"

    serial: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class AuditAnchor(Base):
    """A signed checkpoint of the officer host's audit chain, kept write-once.

    Never updated nor deleted (services/sync.py refuses another document for a count it
    holds, or one counting fewer entries than the latest): a rewrite of the officer's log
    cannot replace the checkpoints that name its old hashes (docs/invariants.md, 11).
    """

    __tablename__ = "audit_anchors"

    count: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    received_hour: Mapped[datetime] = mapped_column(DateTime)


class SyncNonce(Base):
    """A sync request nonce, kept until its timestamp leaves the accepted window."""

    __tablename__ = "sync_nonces"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


class UsedFormToken(Base):
    """A report form's one-time token, spent in the very commit that stored its report.

    A reloaded receipt page or a double click posts the same form again: the second
    commit hits this primary key and the reporter is told the report was already sent
    (docs/threat-model.md, "Submitting twice"). Only SHA-256 of the token is kept, and
    only for a day (a form is refused by its CSRF token long before).
    """

    __tablename__ = "used_form_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    used_hour: Mapped[datetime] = mapped_column(DateTime, index=True)


class UploadSession(Base):
    """An attachment envelope the browser sends in parts (docs/sync-api.md, "Resumable
    uploads"): where its unfinished blob is and how much of it is durable.

    Only SHA-256 of the upload id (the browser's capability) and of the session's CSRF
    secret (the owner, for the per-session caps) are kept. Nothing here is listed to the
    officer host: the envelope joins a submission only in the commit that stores the
    report, which deletes this row. An unfinished upload is aborted after ``expires_hour``.
    """

    __tablename__ = "upload_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    owner_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    store_handle: Mapped[str] = mapped_column(String(1100))
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    received_bytes: Mapped[int] = mapped_column(BigInteger)
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_hour: Mapped[datetime] = mapped_column(DateTime, index=True)
