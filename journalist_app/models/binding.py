"""What binds the parts of a report to its body (docs/envelope.md, "Report body, version 2").

Read once at indexing from the decrypted body and compared with what the public host
delivered: the identity section, the attachments and, for a follow-up, the reporter's
signature. The binding is kept to check the identity again at reveal; the verify key of
a first report is kept to verify the reporter's follow-ups. Nothing of the content is kept.
"""

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.models.base import Base


class ReportBinding(Base):
    __tablename__ = "report_bindings"

    report_id: Mapped[str] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    # 2 for a bound, signed body; 1 for a body written before (nothing to check against).
    version: Mapped[int] = mapped_column(default=1)
    # base64 of the body's 32-byte binding (version 2), compared at reveal.
    binding: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    # The reporter's Ed25519 verify key from a first report whose signature verified.
    verify_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    # The body's signature verified (a report: its own key; a follow-up: the first report's).
    signed: Mapped[bool] = mapped_column(default=False)
    # Space-separated problem codes (journalist_app/triage/binding.py), "" when none.
    problems: Mapped[str] = mapped_column(Text, default="")
