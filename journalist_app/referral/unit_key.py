"""The unit's OpenPGP key: made once, resting protected, opened only in a session.

Its secret key rests in the database armored and protected by a passphrase derived
from the unit's first intake secret (crypto/openpgp.py ``derive_key_passphrase``), so
it opens only with an unlocked keyring that holds that secret, like the search key
(docs/invariants.md, 7). Its user id names the unit's signing role, never an officer.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.openpgp import IsolatedGnuPG, derive_key_passphrase
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.errors import MissingKey
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import ReferralUnitKey, UnitKey
from journalist_app.referral.directory import Directory
from journalist_app.referral.errors import ReferralRefused
from journalist_app.roles import Permission, requires


@dataclass(frozen=True)
class UnitSigningKey:
    """What signing needs: the armored protected key, its fingerprint and passphrase."""

    fingerprint: str
    public_key: str
    secret_key: str
    passphrase: str


def unit_key_passphrase(session: Session, keyring: UnlockedKeyring) -> str:
    """The passphrase of the unit's OpenPGP key, from the unit's first intake secret."""
    first = session.scalars(
        select(UnitKey.key_id).where(UnitKey.role == "intake").order_by(UnitKey.created_at)
    ).first()
    secret = None
    if first is not None:
        secret = keyring.intake_keys.get(first) or keyring.recovery_keys.get(first)
    if secret is None:
        raise MissingKey(
            f"officer {keyring.username!r} does not hold the unit's first intake key, "
            "which opens the unit's OpenPGP key"
        )
    return derive_key_passphrase(bytes(secret))


def current_unit_key(session: Session) -> ReferralUnitKey | None:
    return session.scalars(
        select(ReferralUnitKey)
        .where(ReferralUnitKey.retired_at.is_(None))
        .order_by(ReferralUnitKey.created_at.desc())
        .limit(1)
    ).first()


def signing_key(session: Session, keyring: UnlockedKeyring) -> UnitSigningKey:
    """The unit key in use, with its passphrase; :class:`ReferralRefused` when none."""
    record = current_unit_key(session)
    if record is None:
        raise ReferralRefused(
            "no_unit_key",
            "the unit has no OpenPGP key yet: a supervisor runs "
            "`iblagh-officer referral unit-key create`",
        )
    return UnitSigningKey(
        fingerprint=record.fingerprint,
        public_key=record.public_key,
        secret_key=record.secret_key,
        passphrase=unit_key_passphrase(session, keyring),
    )


@requires(Permission.REFERRALS_MANAGE)
def create_unit_key(
    session: Session,
    keyring: UnlockedKeyring,
    directory: Directory,
    now: datetime | None = None,
) -> ReferralUnitKey:
    """Make the unit's OpenPGP key (the previous one, if any, is retired). Commits."""
    now = now or utc_now()
    passphrase = unit_key_passphrase(session, keyring)
    with IsolatedGnuPG() as gpg:
        fingerprint, public, secret = gpg.generate(
            directory.unit.signing_role_fr, directory.unit.key_email, passphrase, expire="3y"
        )
    for previous in session.scalars(
        select(ReferralUnitKey).where(ReferralUnitKey.retired_at.is_(None))
    ):
        previous.retired_at = now
    record = ReferralUnitKey(
        fingerprint=fingerprint,
        public_key=public,
        secret_key=secret,
        created_at=now,
        created_by=keyring.username,
    )
    session.add(record)
    audit.record(
        session,
        keyring,
        audit.Action.REFERRAL_KEY_CREATED,
        f"openpgp:{fingerprint}",
        {"fingerprint": fingerprint},
        now=now,
    )
    session.commit()
    return record
