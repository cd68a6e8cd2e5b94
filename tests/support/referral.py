"""Partner institutions for referral tests: real OpenPGP keys made by GnuPG.

Keys are Ed25519/Cv25519 (fast). Each partner's secret key is kept so a test can play
the receiving side with stock ``gpg`` and a keyring that holds only that partner's
keys and the unit's public key.
"""

import hashlib
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crypto.openpgp import IsolatedGnuPG
from journalist_app.referral.directory import DEFAULT_FILE


@dataclass(frozen=True)
class PartnerKey:
    fingerprint: str
    public: str
    secret: str


@dataclass(frozen=True)
class PartnerKeys:
    police: PartnerKey
    prosecutor: PartnerKey
    terrorism_police: PartnerKey
    expired: PartnerKey
    revoked: PartnerKey


def make_partner_keys() -> PartnerKeys:
    with IsolatedGnuPG() as gpg:
        made = {
            name: PartnerKey(*gpg.generate(name, f"{name}@partner.invalid", None))
            for name in ("police", "prosecutor", "terrorism")
        }
        fingerprint, _public, secret = gpg.generate("revoked", "revoked@partner.invalid", None)
        revoked = PartnerKey(fingerprint, gpg.revoke(fingerprint), secret)
    with IsolatedGnuPG(faked_time="20200101T000000") as old:
        expired = PartnerKey(*old.generate("expired", "expired@partner.invalid", None, expire="1d"))
    return PartnerKeys(
        police=made["police"],
        prosecutor=made["prosecutor"],
        terrorism_police=made["terrorism"],
        expired=expired,
        revoked=revoked,
    )


def _toml_text(value: str) -> str:
    return '"""\n' + value.strip() + '\n"""'


def with_key(text: str, partner_id: str, key: PartnerKey, fingerprint: str | None = None) -> str:
    """The directory ``text`` with ``key`` (and ``fingerprint``) given to ``partner_id``."""
    pattern = re.compile(
        r'(id = "' + re.escape(partner_id) + r'"\n(?:(?!\n\n).)*?)fingerprint = ""\nkey = ""',
        re.DOTALL,
    )
    replaced, count = pattern.subn(
        lambda m: (
            m.group(1)
            + f'fingerprint = "{fingerprint or key.fingerprint}"\nkey = {_toml_text(key.public)}'
        ),
        text,
        count=1,
    )
    assert count == 1, partner_id
    return replaced


def directory_with_keys(keys: PartnerKeys) -> str:
    """The default directory, every police unit holding the police key, every prosecutor
    the prosecutor key, and the BNPJ the terrorism police key."""
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    for partner_id in re.findall(r'\[\[police\]\]\nid = "([^"]+)"', text):
        key = keys.terrorism_police if partner_id == "bnpj" else keys.police
        text = with_key(text, partner_id, key)
    for partner_id in re.findall(r'\[\[prosecutor\]\]\nid = "([^"]+)"', text):
        text = with_key(text, partner_id, keys.prosecutor)
    return text


@dataclass
class ReceivingSide:
    """A stock GnuPG keyring holding one partner's secret key and the unit's public key."""

    home: Path

    def gpg(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["gpg", "--homedir", str(self.home), "--batch", "--status-fd", "2", *args],
            input=stdin,
            capture_output=True,
            check=False,
        )

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], check=False)


def receiving_side(partner: PartnerKey, unit_public_key: str) -> ReceivingSide:
    home = Path(tempfile.mkdtemp(prefix="iblagh-recv-"))
    home.chmod(0o700)
    side = ReceivingSide(home)
    for block in (partner.secret, unit_public_key):
        result = side.gpg("--import", stdin=block.encode())
        assert result.returncode == 0, result.stderr
    return side


_KEYS: list[PartnerKeys] = []


def partner_keys() -> PartnerKeys:
    """The partners' keys, made once per test process (key generation takes seconds)."""
    if not _KEYS:
        _KEYS.append(make_partner_keys())
    return _KEYS[0]


ARABIC_FACTS = "نشر هذا الحساب دعوة صريحة إلى العنف ضد سكان الحي"
FRENCH_FACTS = "Ce compte publie des menaces contre une famille du quartier"


def referable_case(
    world: Any,
    *,
    category: str = "incitement",
    territory: str = "04.421",
    identity: str | None = None,
    attachments: int = 2,
) -> tuple[int, list[str]]:
    """A triaged case of two reports (Arabic and French) with attachments, in Rabat."""
    from journalist_app.models import ReportTriage
    from journalist_app.triage.ingest import index_pending
    from journalist_app.triage.workflow import change_status, set_territory

    files = [
        (f"preuve {n}.jpg", b"\xff\xd8\xff\xe0" + bytes([n]) * (3000 + n))
        for n in range(attachments)
    ]
    first = world.add_report(
        {
            "category": category,
            "language": "ar",
            "description": ARABIC_FACTS,
            "urls": ["https://www.example.com/post/123?utm_source=x", "hxxps://bit[.]ly/abc"],
            "platform": "example",
            "account": "@menace_account",
            "attachments": [
                {
                    "blob": f"attachment-{i}",
                    "name": name,
                    "type": "image/jpeg",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                for i, (name, data) in enumerate(files, start=1)
            ],
        },
        attachments=files,
        identity=identity,
    )
    second = world.add_report(
        {
            "category": category,
            "language": "fr",
            "description": FRENCH_FACTS,
            "urls": ["https://www.example.com/post/123"],
        },
        # An hour after the first: the dossier numbers reports in order of receipt.
        received=datetime(2026, 11, 28, 19),
    )
    index_pending(world.session, world.store, world.supervisor)
    case_id = world.session.get(ReportTriage, first).case_id
    assert world.session.get(ReportTriage, second).case_id == case_id
    set_territory(world.session, world.analyst, case_id, territory)
    change_status(world.session, world.analyst, case_id, "triaged")
    return case_id, [first, second]


def ready_unit(world: Any, keys: PartnerKeys) -> None:
    """The directory with the partners' keys in force, and the unit's OpenPGP key made."""
    from journalist_app.referral.directory import current_directory
    from journalist_app.referral.partners import import_directory
    from journalist_app.referral.unit_key import create_unit_key

    import_directory(world.session, world.supervisor, directory_with_keys(keys).encode())
    create_unit_key(world.session, world.supervisor, current_directory(world.session))
