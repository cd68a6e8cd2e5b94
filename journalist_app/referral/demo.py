"""Demo partners for ``make run``: a receiving unit and a prosecutor with real keys.

``iblagh-officer demo-init`` calls :func:`set_up_demo_partners` once: it makes two
OpenPGP keys (one for every judicial police unit of the default directory, one for
every prosecutor), imports the default directory with them, makes the unit's own key,
and leaves each partner's secret key in a stock GnuPG home under ``partners_dir`` with
the unit's public key beside it. Whoever plays the receiving side then opens a packet
and signs an acknowledgement with plain ``gpg --homedir …`` (the commands are written
to ``partners_dir/README.txt``). Demo only: the secret keys rest unprotected.
"""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from crypto.openpgp import IsolatedGnuPG
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.referral.directory import DEFAULT_FILE, current_directory
from journalist_app.referral.partners import import_directory
from journalist_app.referral.unit_key import create_unit_key, current_unit_key

DEMO_PARTNERS = ("police", "prosecutor")


class DemoHomeError(Exception):
    """The keys are made and imported on this host, but a stock GnuPG home could not
    take them; the message says what to do."""


@dataclass(frozen=True)
class DemoPartner:
    kind: str
    fingerprint: str
    public: str
    secret: str


def _toml_text(value: str) -> str:
    return '"""\n' + value.strip() + '\n"""'


def directory_with_demo_keys(text: str, keys: dict[str, DemoPartner]) -> str:
    """``text`` (a directory) with ``keys[kind]`` given to every partner of that kind
    that has no key yet."""

    def give(match: re.Match[str]) -> str:
        partner = keys[match.group(1)]
        return (
            match.group(0)[: -len('fingerprint = ""\nkey = ""')]
            + f'fingerprint = "{partner.fingerprint}"\nkey = {_toml_text(partner.public)}'
        )

    pattern = re.compile(
        r'\[\[(police|prosecutor)\]\]\nid = "[^"]+"\n(?:(?!\n\n).)*?fingerprint = ""\nkey = ""',
        re.DOTALL,
    )
    return pattern.sub(give, text)


def _stock_home(home: Path, blocks: list[str]) -> bool:
    """Import ``blocks`` into the GnuPG home ``home``; False when gpg cannot (its agent's
    socket path is limited to about 100 characters: a deep folder fails)."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    imported = True
    for block in blocks:
        imported &= (
            subprocess.run(
                ["gpg", "--homedir", str(home), "--batch", "--import"],
                input=block.encode(),
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
        capture_output=True,
        check=False,
    )
    return imported


def set_up_demo_partners(
    session: Session, keyring: UnlockedKeyring, partners_dir: Path
) -> dict[str, Path]:
    """Keys, directory and unit key for the demo (nothing when the unit key exists).

    Returns the GnuPG home of each demo partner kind. Commits.
    """
    homes = {kind: partners_dir / kind for kind in DEMO_PARTNERS}
    if current_unit_key(session) is not None:
        return homes
    keys: dict[str, DemoPartner] = {}
    with IsolatedGnuPG() as gpg:
        for kind in DEMO_PARTNERS:
            fingerprint, public, secret = gpg.generate(
                f"Demo {kind}", f"demo-{kind}@partner.invalid", None
            )
            keys[kind] = DemoPartner(kind, fingerprint, public, secret)
    text = directory_with_demo_keys(DEFAULT_FILE.read_text(encoding="utf-8"), keys)
    import_directory(session, keyring, text.encode("utf-8"))
    unit_key = create_unit_key(session, keyring, current_directory(session))
    partners_dir.mkdir(parents=True, exist_ok=True)
    (partners_dir / "unit-public.asc").write_text(unit_key.public_key, encoding="ascii")
    for kind, home in homes.items():
        # The key files too: a home too deep for gpg's agent can be rebuilt elsewhere.
        secret_file = partners_dir / f"{kind}-secret.asc"
        secret_file.touch(mode=0o600)
        secret_file.write_text(keys[kind].secret, encoding="ascii")
        if not _stock_home(home, [keys[kind].secret, unit_key.public_key]):
            raise DemoHomeError(
                f"gpg could not import the demo {kind} key into {home} (a folder too deep "
                f"for gpg-agent's socket?): import {secret_file} into a shorter GnuPG home"
            )
    (partners_dir / "README.txt").write_text(_README.format(dir=partners_dir), encoding="utf-8")
    return homes


_README = """\
DEMO ONLY: the receiving side of a referral, with stock GnuPG.

{dir}/police      the secret key of every judicial police unit of the demo directory
{dir}/prosecutor  the secret key of every prosecutor
(each home also holds the unit's public key, so gpg verifies the unit's signature;
the same keys are in police-secret.asc, prosecutor-secret.asc and unit-public.asc:
`gpg --homedir H --import FILE` rebuilds a home elsewhere)

Open a packet downloaded from the referral page (the unit's signature is checked):
  gpg --homedir {dir}/police --decrypt REF.tar.gpg > REF.tar && tar xf REF.tar

Acknowledge it (paste the output into the referral page, or `referral ack FILE`):
  printf 'Packet-SHA256: %s\\nReference: BRPJ-DEMO-1\\n' "$(sha256sum REF.tar.gpg | cut -c1-64)" |
    gpg --homedir {dir}/police --clearsign
"""
