"""The connected machine of an air-gapped unit: a data dir that holds the sync key only.

The unit's keys are made on the offline officer host (``keys init``). The connected
machine, which talks to the public host, needs only the sync key (to sign sync requests
and inbound batches) and the public halves of the unit keys (to verify outbound
batches). ``export_kit`` writes that, for one operator account of the connected machine
whose own passphrase wraps it; ``install_kit`` sets up an empty data dir from it. The
intake keys and the unit signing key never leave the offline host. See docs/batch.md.
"""

import json
from dataclasses import dataclass
from typing import Any

from nacl.signing import VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, SignatureError
from crypto.keys import Argon2Params, key_id_hex
from crypto.recipients import verify_recipient_set
from journalist_app import audit
from journalist_app.audit import Action
from journalist_app.errors import KeysAlreadyInitialised, MissingKey, OfficerError
from journalist_app.keys import custody
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.keys.recipient_sets import latest_public_files
from journalist_app.models import KeyGrant, Officer, RecipientSetRecord, UnitKey
from journalist_app.roles import Permission, Role, parse_role, requires

KIT_FORMAT = "iblagh-connected-host/1"
# The connected machine's account syncs and carries batches; it holds no intake key, so
# it reads nothing whatever its role allows.
COURIER_ROLE = Role.ANALYST


class InvalidKit(OfficerError):
    """A connected-host kit that is damaged, inconsistent, or not the expected unit's."""


@dataclass(frozen=True)
class InstalledKit:
    username: str
    sync_key_id: str
    unit_verify_key_id: str


@requires(Permission.KEYS_GRANT)
def export_kit(
    session: Session,
    keyring: UnlockedKeyring,
    username: str,
    passphrase: str,
    params: Argon2Params,
) -> bytes:
    """The kit for the connected machine: an account granted only the sync key.

    ``passphrase`` is new and protects that account only; the officer's own passphrase
    never has to be typed on the connected machine.
    """
    if keyring.sync_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no sync key")
    sync_key = keyring.sync_key
    courier, _ = custody.new_officer(
        username,
        passphrase,
        params,
        role=COURIER_ROLE,
        grants=[(key_id_hex(bytes(sync_key.verify_key)), bytes(sync_key))],
    )
    unit_keys = list(session.scalars(select(UnitKey).order_by(UnitKey.created_at)))
    files = latest_public_files(session)
    document = {
        "format": KIT_FORMAT,
        "officer": {
            "username": courier.username,
            "role": courier.role,
            "password_hash": b64encode(courier.password_hash),
            "public_key": b64encode(courier.public_key),
            "wrapped_private_key": b64encode(courier.wrapped_private_key),
        },
        "grants": [
            {"key_id": grant.key_id, "sealed_secret": b64encode(grant.sealed_secret)}
            for grant in courier.grants
        ],
        # Public halves only; the recovery key's is public too.
        "unit_keys": [
            {"key_id": key.key_id, "role": key.role, "public_key": b64encode(key.public_key)}
            for key in unit_keys
        ],
        "recipient_set": b64encode(files.signed_recipient_set),
    }
    audit.record(
        session,
        keyring,
        Action.KEYS_GRANTED,
        target=f"connected-host:{username}",
        details={"key_id": key_id_hex(bytes(sync_key.verify_key))},
    )
    session.commit()
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def install_kit(
    session: Session, raw: bytes, pinned_verify_key: bytes | None = None
) -> InstalledKit:
    """Set up an empty data dir as the connected machine. Commits."""
    if custody.keys_initialised(session):
        raise KeysAlreadyInitialised(
            "this data dir already holds unit keys: set up the connected machine in an empty one"
        )
    try:
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("format") != KIT_FORMAT:
            raise InvalidKit("not a connected-host kit")
        return _install(session, document, pinned_verify_key)
    except (ValueError, KeyError, TypeError, CryptoError) as exc:
        session.rollback()
        raise InvalidKit(f"the connected-host kit is damaged: {exc}") from exc


def _install(
    session: Session, document: dict[str, Any], pinned_verify_key: bytes | None
) -> InstalledKit:
    keys = [
        UnitKey(
            key_id=item["key_id"],
            role=item["role"],
            public_key=b64decode(item["public_key"], length=32),
        )
        for item in document["unit_keys"]
    ]
    for key in keys:
        if key_id_hex(key.public_key) != key.key_id:
            raise InvalidKit(f"unit key {key.key_id} does not match its public key")
    signing = [key for key in keys if key.role == "signing"]
    if len(signing) != 1:
        raise InvalidKit("the kit must name exactly one unit signing key")
    if pinned_verify_key is not None and signing[0].public_key != pinned_verify_key:
        raise InvalidKit("the kit's unit signing key is not the unit verify key given")
    signed_set = b64decode(document["recipient_set"])
    try:
        recipient_set = verify_recipient_set(signed_set, VerifyKey(signing[0].public_key))
    except SignatureError as exc:
        raise InvalidKit("the kit's recipient set is not signed by its unit signing key") from exc
    sync_ids = {key_id_hex(k) for k in recipient_set.sync_verify_keys}
    grants = [
        KeyGrant(key_id=item["key_id"], sealed_secret=b64decode(item["sealed_secret"]))
        for item in document["grants"]
    ]
    if not grants or any(grant.key_id not in sync_ids for grant in grants):
        raise InvalidKit("the kit must grant the sync key of the recipient set, and nothing else")
    account = document["officer"]
    custody.check_username(account["username"])
    officer = Officer(
        username=account["username"],
        role=parse_role(account["role"]).value,
        password_hash=b64decode(account["password_hash"]),
        public_key=b64decode(account["public_key"], length=32),
        wrapped_private_key=b64decode(account["wrapped_private_key"]),
        grants=grants,
    )
    session.add_all(keys)
    session.flush()
    session.add(officer)
    session.add(RecipientSetRecord(serial=recipient_set.serial, signed=signed_set))
    session.commit()
    return InstalledKit(
        username=officer.username,
        sync_key_id=grants[0].key_id,
        unit_verify_key_id=signing[0].key_id,
    )
