"""The unit's public keys and the recipient sets signed from them."""

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.clock import utc_now
from journalist_app.models.base import Base

ROLES = ("intake", "identity", "recovery", "signing", "sync")


class UnitKey(Base):
    """A unit key's public half; secrets live only in officers' grants (or, recovery, offline)."""

    __tablename__ = "unit_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # A retired intake (or identity) key leaves the recipient set but stays granted for
    # old reports (or their identity sections).
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class RecipientSetRecord(Base):
    """Each signed recipient set issued, kept byte for byte so it can be re-exported."""

    __tablename__ = "recipient_sets"

    serial: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    issued_at: Mapped[datetime] = mapped_column(default=utc_now)
    signed: Mapped[bytes] = mapped_column(LargeBinary)
