"""Which recipient set the public host serves, checked on every sync (issue 9, item 4).

After a rotation the public host must run the new signed set: until it does, it keeps
sealing new reports to a retired key, which this host still opens, so nothing else would
show it. Every sync therefore fetches the set the public host serves
(``GET /sync/v1/recipient-set``), verifies it against the unit's signing keys and
compares it with the last set this host issued. Anything but "current" is a warning
(CLI summary, web sync page, audit log ``sync.recipient_set_not_current``); the sync
itself goes on, since what arrives is still sealed to keys this host holds (the envelope
check of sync/pull.py refuses anything else).
"""

from dataclasses import dataclass
from typing import Literal

from nacl.signing import VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.errors import CryptoError
from crypto.recipients import RecipientSet, verify_recipient_set
from journalist_app.errors import SyncProtocolError
from journalist_app.models import RecipientSetRecord, UnitKey
from journalist_app.sync.client import SyncClient

# current: the last set issued here. stale: an older one (a rotation not yet installed).
# unknown: a validly signed set with a serial this host never issued. differs: the serial
# of the current set with other keys. forged: not signed by any of the unit's signing keys.
# unavailable: the public host serves none (an older public host, or a refusal).
FreshnessStatus = Literal["current", "stale", "unknown", "differs", "forged", "unavailable"]


@dataclass(frozen=True)
class RecipientSetCheck:
    """What the public host serves, against what this host issued last."""

    status: FreshnessStatus
    served_serial: int | None
    current_serial: int | None

    @property
    def current(self) -> bool:
        return self.status == "current"

    def warning(self) -> str:
        """One line for the CLI summary; "" when the set is current."""
        served, current = self.served_serial, self.current_serial
        if self.status == "current":
            return ""
        if self.status == "stale":
            return (
                f"WARNING: the public host runs recipient set {served}, not the current "
                f"{current}: new reports are still sealed to retired keys. Install the "
                "current recipient-set.json on the public host (iblagh-officer export-public)."
            )
        if self.status == "unknown":
            return (
                f"WARNING: the public host runs recipient set {served}, which this host never "
                f"issued (its last is {current}): check which officer host signed it."
            )
        if self.status == "differs":
            return (
                f"WARNING: the public host's recipient set {served} holds other keys than "
                "the one issued here: install the current recipient-set.json on it."
            )
        if self.status == "forged":
            return (
                "WARNING: the public host serves a recipient set not signed by the unit's "
                "key: it may be compromised. Check it before trusting new reports."
            )
        return (
            "WARNING: the public host did not serve its recipient set, so which keys new "
            "reports are sealed to was not checked."
        )


def check_served_recipient_set(session: Session, client: SyncClient) -> RecipientSetCheck:
    """Fetch, verify and compare the public host's recipient set (one signed request).

    A host that cannot be reached raises as any sync request does; a refused or
    malformed answer is ``unavailable``.
    """
    latest = session.scalar(
        select(RecipientSetRecord).order_by(RecipientSetRecord.serial.desc()).limit(1)
    )
    current_serial = latest.serial if latest is not None else None
    try:
        signed = client.fetch_recipient_set()
    except SyncProtocolError:
        return RecipientSetCheck("unavailable", None, current_serial)
    served = _verified(session, signed)
    if served is None:
        return RecipientSetCheck("forged", None, current_serial)
    if latest is None or served.serial > latest.serial:
        return RecipientSetCheck("unknown", served.serial, current_serial)
    if served.serial < latest.serial:
        return RecipientSetCheck("stale", served.serial, current_serial)
    ours = _verified(session, latest.signed)
    if signed != latest.signed and (ours is None or ours.to_payload() != served.to_payload()):
        return RecipientSetCheck("differs", served.serial, current_serial)
    return RecipientSetCheck("current", served.serial, current_serial)


def _verified(session: Session, signed: bytes) -> RecipientSet | None:
    """The set, if one of the unit's signing keys (retired ones included) signed it."""
    for key in session.scalars(select(UnitKey).where(UnitKey.role == "signing")):
        try:
            return verify_recipient_set(signed, VerifyKey(key.public_key))
        except (CryptoError, ValueError):
            continue
    return None
