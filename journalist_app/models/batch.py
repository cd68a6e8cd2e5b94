"""Air-gap bookkeeping (docs/batch.md): batches written and imported, the outbox, receipts.

Both hosts run the same schema. The offline officer host uses ``batch_records`` and
``outbox_items``; the connected machine uses ``batch_records`` and ``upload_receipts``.
"""

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class BatchRecord(Base):
    """A batch this host wrote (``exported``) or accepted (``imported``).

    Imported records refuse replays: a batch id seen before, or a sequence number not
    above the last imported one of its direction.
    """

    __tablename__ = "batch_records"
    __table_args__ = (UniqueConstraint("direction", "action", "sequence"),)

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int]
    signer: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(20))
    entries: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)


class OutboxItem(Base):
    """Something the offline host owes the public host: an acknowledgement or a reply.

    ``exported_batch`` is the last outbound batch that carried it; ``confirmed_at`` is set
    when a receipt in a later inbound batch says the public host has applied it.
    """

    __tablename__ = "outbox_items"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(default=utc_now)
    exported_batch: Mapped[str | None] = mapped_column(String(32), default=None)
    exported_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)


class UploadReceipt(Base):
    """What the public host answered when an outbound batch was uploaded (connected side).

    Travels back to the offline host in the next inbound batch, which is how that host
    learns its replies were delivered and its acknowledgements applied.
    """

    __tablename__ = "upload_receipts"

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sequence: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(default=utc_now)
    # UTF-8 JSON, the receipt document of docs/batch.md.
    document: Mapped[bytes] = mapped_column(LargeBinary)
    exported_batch: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
