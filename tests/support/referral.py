"""Partner institutions for referral tests: real OpenPGP keys made by GnuPG.

Keys are Ed25519/Cv25519 (fast). Each partner's secret key is kept so a test can play
the receiving side with stock ``gpg`` and a keyring that holds only that partner's
keys and the unit's public key.
"""

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
        lambda m: m.group(1)
        + f'fingerprint = "{fingerprint or key.fingerprint}"\nkey = {_toml_text(key.public)}',
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
