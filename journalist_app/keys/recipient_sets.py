"""Issuing the signed recipient set and the public files the public host installs."""

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nacl.public import PublicKey
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.encoding import b64encode
from crypto.recipients import make_recipient_set, sign_recipient_set
from journalist_app.errors import KeysNotInitialised, MissingKey
from journalist_app.models import RecipientSetRecord, UnitKey

RECIPIENT_SET_FILE = "recipient-set.json"
VERIFY_KEY_FILE = "unit-verify-key"


@dataclass(frozen=True)
class PublicFiles:
    """What the public host needs: the signed recipient set and the unit verify key to pin."""

    signed_recipient_set: bytes
    unit_verify_key: bytes


def active_keys(session: Session, role: str) -> list[UnitKey]:
    """The unit's keys of ``role`` that are not retired, oldest first."""
    return list(
        session.scalars(
            select(UnitKey)
            .where(UnitKey.role == role, UnitKey.retired_at.is_(None))
            .order_by(UnitKey.created_at, UnitKey.key_id)
        )
    )


def issue_recipient_set(session: Session, signing_key: SigningKey, now: datetime) -> bytes:
    """Sign a new recipient set (next serial) from the active keys and record it: report
    bodies go to the active intake keys, identity sections to the active identity keys,
    both to the recovery key (crypto/recipients.py)."""
    now = now.astimezone(UTC)
    signing = active_keys(session, "signing")
    if not signing or signing[0].public_key != bytes(signing_key.verify_key):
        raise MissingKey("this signing key is not the unit's signing key")
    intake = active_keys(session, "intake")
    identity = active_keys(session, "identity")
    recovery = active_keys(session, "recovery")
    sync = active_keys(session, "sync")
    if not intake or len(recovery) != 1:
        raise KeysNotInitialised("the unit has no intake or recovery key")
    if not identity:
        raise KeysNotInitialised(
            "the unit has no identity key (keys made before identity keys existed): "
            "run 'iblagh-officer keys rotate-identity' to create it"
        )
    serial = (session.scalar(select(func.max(RecipientSetRecord.serial))) or 0) + 1
    recipient_set = make_recipient_set(
        serial=serial,
        issued_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        intake_keys=[PublicKey(key.public_key) for key in intake],
        recovery_key=PublicKey(recovery[0].public_key),
        sync_verify_keys=[VerifyKey(key.public_key) for key in sync],
        identity_keys=[PublicKey(key.public_key) for key in identity],
    )
    signed = sign_recipient_set(recipient_set, signing_key)
    session.add(
        RecipientSetRecord(serial=serial, issued_at=now.replace(tzinfo=None), signed=signed)
    )
    return signed


def latest_public_files(session: Session) -> PublicFiles:
    """The last recipient set issued, byte for byte, and the unit verify key."""
    record = session.scalar(
        select(RecipientSetRecord).order_by(RecipientSetRecord.serial.desc()).limit(1)
    )
    signing = active_keys(session, "signing")
    if record is None or not signing:
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    return PublicFiles(signed_recipient_set=record.signed, unit_verify_key=signing[0].public_key)


def write_public_files(directory: Path, files: PublicFiles) -> list[Path]:
    """Write both files atomically; a reader never sees half a recipient set."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _write_atomically(directory / RECIPIENT_SET_FILE, files.signed_recipient_set),
        _write_atomically(
            directory / VERIFY_KEY_FILE, (b64encode(files.unit_verify_key) + "\n").encode("ascii")
        ),
    ]
    return written


def _write_atomically(path: Path, data: bytes) -> Path:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # Public material: the public host's user must be able to read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
