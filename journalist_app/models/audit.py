"""The audit log: append-only, each entry hashed together with the one before it.

Every field is stored as the exact text that was hashed (time included), so verifying
the chain needs no re-formatting that a database could alter. See journalist_app/audit.py.
"""

from sqlalchemy import Connection, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.models.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    # Assigned as previous id + 1, never by the database: a gap is a deleted row.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # ISO 8601 UTC with microseconds, e.g. 2026-11-28T18:04:00.123456Z.
    time: Mapped[str] = mapped_column(String(32), index=True)
    # Username of the officer who acted; "" for the system or an unknown account.
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    # Canonical JSON object (sorted keys, no spaces).
    details: Mapped[str] = mapped_column(Text)
    # Unique: two entries can never claim the same predecessor, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# The application never updates or deletes an entry; the database refuses it too. Someone
# with write access to the file can drop the trigger: that is what the hash chain is for.
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_entries_no_{op.lower()} BEFORE {op} ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"
    for op in ("UPDATE", "DELETE")
]
_POSTGRESQL_TRIGGERS = [
    "CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$",
    "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
    "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
]


@event.listens_for(AuditEntry.__table__, "after_create")
def _refuse_changes(_table: object, connection: Connection, **_kw: object) -> None:
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRESQL_TRIGGERS}
    for statement in statements.get(connection.dialect.name, []):
        connection.execute(text(statement))
