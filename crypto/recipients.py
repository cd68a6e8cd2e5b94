"""The signed recipient set: whom reports are sealed to, and who may pull them.

The unit signs it with its Ed25519 signing key on the officer host; the public host
pins the unit's verify key and refuses to accept reports under a set that does not
verify. Besides the X25519 recipients the set names the Ed25519 keys allowed to sign
sync requests, so the public host trusts exactly one pinned key and learns everything
else through it.

Two groups of envelopes are sealed to two groups of recipients (docs/invariants.md, 5):

- report bodies, attachments and follow-ups: each **intake** key and the **recovery**
  key (:meth:`RecipientSet.public_keys`);
- identity sections: each **identity** key and the **recovery** key
  (:meth:`RecipientSet.identity_public_keys`).

An intake key therefore never opens an identity section: the officers who read reports
hold intake keys, and only the roles allowed to reveal an identity hold identity keys
(journalist_app/roles.py). The offline recovery key opens both.

File form (JSON): ``{"payload": base64(canonical JSON), "signature": base64}``.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import nacl.exceptions
from nacl.public import PublicKey
from nacl.signing import SigningKey, VerifyKey

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.errors import CryptoError, SignatureError
from crypto.keys import key_id_hex

FORMAT: Final = "iblagh-recipient-set/1"
RecipientRole = Literal["intake", "identity", "recovery"]


@dataclass(frozen=True)
class Recipient:
    """One X25519 public key envelopes are sealed to, and which envelopes (its role)."""

    role: RecipientRole
    public_key: bytes

    @property
    def key_id(self) -> str:
        return key_id_hex(self.public_key)


@dataclass(frozen=True)
class RecipientSet:
    """The verified content of a signed recipient set."""

    serial: int
    issued_at: str
    recipients: tuple[Recipient, ...]
    sync_verify_keys: tuple[bytes, ...]

    def public_keys(self) -> list[PublicKey]:
        """What report bodies, attachments and follow-ups are sealed to: each intake key
        and the recovery key. Never an identity section (:meth:`identity_public_keys`)."""
        return self._keys_of("intake")

    def identity_public_keys(self) -> list[PublicKey]:
        """What identity sections are sealed to: each identity key and the recovery key.

        No intake key: an officer who reads reports cannot open who sent them.
        """
        return self._keys_of("identity")

    def _keys_of(self, role: RecipientRole) -> list[PublicKey]:
        return [
            PublicKey(recipient.public_key)
            for recipient in self.recipients
            if recipient.role in (role, "recovery")
        ]

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "serial": self.serial,
            "issued_at": self.issued_at,
            "recipients": [
                {"role": r.role, "public_key": b64encode(r.public_key)} for r in self.recipients
            ],
            "sync_verify_keys": [b64encode(k) for k in self.sync_verify_keys],
        }

    @classmethod
    def from_payload(cls, payload: Any) -> "RecipientSet":
        try:
            if not isinstance(payload, dict) or payload["format"] != FORMAT:
                raise CryptoError("not a recipient set")
            serial, issued_at = payload["serial"], payload["issued_at"]
            if (
                not isinstance(serial, int)
                or isinstance(serial, bool)
                or serial < 1
                or not isinstance(issued_at, str)
            ):
                raise CryptoError("invalid serial or issue date")
            recipients = tuple(
                Recipient(
                    role=_role(item["role"]), public_key=b64decode(item["public_key"], length=32)
                )
                for item in payload["recipients"]
            )
            sync_keys = tuple(b64decode(k, length=32) for k in payload["sync_verify_keys"])
        except (KeyError, TypeError) as exc:
            raise CryptoError("recipient set is missing a field") from exc
        result = cls(serial, issued_at, recipients, sync_keys)
        result.check()
        return result

    def check(self) -> None:
        """Refuse a set that could not serve: no intake key, no identity key, not exactly
        one recovery key, too many, or one key in two roles."""
        roles = [r.role for r in self.recipients]
        if "intake" not in roles or "identity" not in roles or roles.count("recovery") != 1:
            raise CryptoError(
                "a recipient set needs an intake key, an identity key and one recovery key"
            )
        if len(self.recipients) > 8 or len({r.public_key for r in self.recipients}) != len(roles):
            raise CryptoError("a recipient set has at most 8 distinct recipients")


def _role(value: Any) -> RecipientRole:
    if value == "intake":
        return "intake"
    if value == "identity":
        return "identity"
    if value == "recovery":
        return "recovery"
    raise CryptoError("unknown recipient role")


def make_recipient_set(
    serial: int,
    issued_at: str,
    intake_keys: Sequence[PublicKey],
    recovery_key: PublicKey,
    sync_verify_keys: Sequence[VerifyKey],
    *,
    identity_keys: Sequence[PublicKey],
) -> RecipientSet:
    """Build (and check) a recipient set from key objects.

    ``intake_keys`` open report bodies, attachments and follow-ups; ``identity_keys``
    open identity sections; the ``recovery_key`` opens both.
    """
    recipients = [Recipient("intake", bytes(k)) for k in intake_keys]
    recipients.extend(Recipient("identity", bytes(k)) for k in identity_keys)
    recipients.append(Recipient("recovery", bytes(recovery_key)))
    result = RecipientSet(
        serial=serial,
        issued_at=issued_at,
        recipients=tuple(recipients),
        sync_verify_keys=tuple(bytes(k) for k in sync_verify_keys),
    )
    result.check()
    return result


def sign_recipient_set(recipient_set: RecipientSet, signing_key: SigningKey) -> bytes:
    """The signed file to install on the public host."""
    recipient_set.check()
    payload = canonical_json(recipient_set.to_payload())
    signature = signing_key.sign(payload).signature
    document = {"payload": b64encode(payload), "signature": b64encode(signature)}
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def verify_recipient_set(signed: bytes, verify_key: VerifyKey) -> RecipientSet:
    """Verify a signed recipient set against the pinned unit verify key, then parse it."""
    try:
        document = json.loads(signed)
        payload = b64decode(document["payload"])
        signature = b64decode(document["signature"], length=64)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, CryptoError) as exc:
        raise SignatureError("not a signed recipient set") from exc
    try:
        verify_key.verify(payload, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError("the recipient set is not signed by the unit key") from exc
    try:
        return RecipientSet.from_payload(json.loads(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError("signed recipient set payload is not JSON") from exc
