"""Partners' keys, checked on import of the directory and again before every use.

A directory is imported whole or not at all: one partner key that is expired, revoked,
unreadable or not the fingerprint written beside it refuses the file, naming the entry
and the reason. An entry without a key imports (the default has none) but cannot
receive a packet until the unit adds it.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crypto.openpgp import CheckedKey, IsolatedGnuPG, KeyRefused
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.models import ReferralDirectory
from journalist_app.referral.directory import Directory, Partner, parse_directory
from journalist_app.referral.errors import ReferralRefused
from journalist_app.roles import Permission, Principal, requires

REFUSAL_TEXT = {
    "malformed": "the key cannot be read",
    "several": "the key block holds several keys",
    "fingerprint": "the key is not the one whose fingerprint is written in the directory",
    "expired": "the key has expired",
    "revoked": "the key is revoked",
    "unusable": "the key has no valid encryption subkey",
}


@dataclass(frozen=True)
class DirectoryImport:
    directory: Directory
    with_key: int
    without_key: int


def check_partner(gpg: IsolatedGnuPG, partner: Partner) -> CheckedKey:
    """Import ``partner``'s key into ``gpg`` and check it for encryption (and signing,
    which acknowledgements need); :class:`ReferralRefused` with a clear reason."""
    if not partner.has_key:
        raise ReferralRefused(
            "no_key",
            f"{partner.name_fr} ({partner.id}) has no OpenPGP key in the directory: "
            "add its key and fingerprint, then import the directory again",
        )
    try:
        return gpg.import_checked(partner.key, partner.fingerprint, use="encrypt")
    except KeyRefused as exc:
        raise ReferralRefused(
            "key_refused",
            f"{partner.name_fr} ({partner.id}): {REFUSAL_TEXT[exc.reason]} ({exc})",
        ) from exc


@requires(Permission.REFERRALS_MANAGE)
def import_directory(
    session: Session, actor: Principal, raw: bytes, now: datetime | None = None
) -> DirectoryImport:
    """Check the file and every key in it, then record it as the directory in force.

    Commits with its audit entry; :class:`DirectoryError` or :class:`ReferralRefused`
    (nothing imported) otherwise.
    """
    now = now or utc_now()
    directory = parse_directory(raw)
    keyed = [p for p in directory.partners.values() if p.has_key]
    for partner in keyed:
        # One home per key: a key block cannot vouch for another entry's key.
        with IsolatedGnuPG() as gpg:
            check_partner(gpg, partner)
    session.add(
        ReferralDirectory(
            sha256=directory.sha256,
            content=directory.text,
            imported_at=now,
            imported_by=actor.username,
        )
    )
    audit.record(
        session,
        actor,
        audit.Action.REFERRAL_DIRECTORY_IMPORTED,
        f"directory:{directory.sha256[:16]}",
        {
            "sha256": directory.sha256,
            "partners": len(directory.partners),
            "with_key": len(keyed),
            "fingerprints": sorted(p.fingerprint for p in keyed),
        },
        now=now,
    )
    session.commit()
    return DirectoryImport(directory, len(keyed), len(directory.partners) - len(keyed))
