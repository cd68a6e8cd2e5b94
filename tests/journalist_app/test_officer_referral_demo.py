"""The demo's receiving side (`make run`): stock GnuPG homes that open the demo packets.

Issue 12's "Done when": the packet an officer builds from the demo decrypts with the
demo receiving unit's key, and the acknowledgement signed there imports.
"""

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from journalist_app.cli.main import main
from journalist_app.models import Case
from journalist_app.referral.acknowledgement import import_acknowledgement
from journalist_app.referral.demo import set_up_demo_partners
from journalist_app.referral.directory import current_directory, propose
from journalist_app.referral.packet import ReferralRequest, build_packet
from journalist_app.referral.sending import export_packet
from journalist_app.referral.unit_key import current_unit_key
from tests.support.referral import referable_case
from tests.support.triage import make_world


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def partners():
    """A short folder for the GnuPG homes: gpg's agent socket lives in the home, and a
    deep pytest folder is too long for it (about 100 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="ibl-demo-"))
    yield folder
    for home in folder.iterdir():
        if home.is_dir():
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _gpg(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--status-fd", "2", *args],
        input=stdin,
        capture_output=True,
        check=False,
    )


def test_the_demo_receiving_unit_opens_the_proposed_packet_and_acknowledges_it(
    world, tmp_path, partners
) -> None:
    homes = set_up_demo_partners(world.session, world.supervisor, partners)
    unit_key = current_unit_key(world.session)
    assert unit_key is not None
    # Every police unit and prosecutor of the directory can receive a demo packet.
    directory = current_directory(world.session)
    assert all(p.has_key for p in directory.partners.values())
    case_id, _ = referable_case(world)
    case = world.session.get(Case, case_id)
    proposal = propose(directory, case.category, case.territory_code)
    assert proposal.police is not None and proposal.prosecutor is not None
    referral = build_packet(
        world.session,
        world.store,
        world.analyst,
        world.config.data_dir,
        ReferralRequest(
            case_id=case_id,
            police_id=proposal.police.id,
            prosecutor_id=proposal.prosecutor.id,
            qualification_id=directory.qualifications_for(case.category)[0].id,
        ),
    )
    usb = tmp_path / "usb"
    export_packet(world.session, world.analyst, world.config.data_dir, referral.reference, usb)
    packet = usb / f"{referral.reference}.tar.gpg"
    try:
        opened = _gpg(
            homes["police"], "--output", str(tmp_path / "p.tar"), "--decrypt", str(packet)
        )
        assert opened.returncode == 0, opened.stderr.decode()
        assert f"GOODSIG {unit_key.fingerprint[-16:]}".encode() in opened.stderr
        assert (tmp_path / "p.tar").stat().st_size > 0
        # The police home cannot read the prosecutor's notice, and the reverse.
        notice = usb / f"{referral.reference}-notice.pdf.gpg"
        assert _gpg(homes["police"], "--decrypt", str(notice)).returncode != 0
        assert _gpg(homes["prosecutor"], "--decrypt", str(notice)).returncode == 0
        digest = hashlib.sha256(packet.read_bytes()).hexdigest()
        text = f"Packet-SHA256: {digest}\nReference: BRPJ-DEMO-1\n".encode()
        signed = _gpg(homes["police"], "--clearsign", stdin=text)
        assert signed.returncode == 0, signed.stderr.decode()
    finally:
        for home in homes.values():
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    result = import_acknowledgement(world.session, world.analyst, signed.stdout)
    assert result.their_reference == "BRPJ-DEMO-1"
    assert "gpg --homedir" in (partners / "README.txt").read_text()


def test_demo_init_sets_up_the_partners_once(tmp_path, monkeypatch, capsys, partners) -> None:
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(tmp_path / "officer"))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.delenv("IBLAGH_DATABASE_URL", raising=False)
    arguments = ["demo-init", "--public-out", str(tmp_path / "public")]
    assert main([*arguments, "--partners-out", str(partners)]) == 0
    assert f"demo referral partners (stock GnuPG homes) in {partners}" in capsys.readouterr().out
    police_keys = _gpg(partners / "police", "--list-secret-keys").stdout
    assert b"Demo police" in police_keys
    before = {p: p.stat().st_mtime_ns for p in partners.rglob("pubring.kbx")}
    assert main([*arguments, "--partners-out", str(partners)]) == 0
    assert "demo referral partners" not in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in partners.rglob("pubring.kbx")} == before
    for home in ("police", "prosecutor"):
        subprocess.run(
            ["gpgconf", "--homedir", str(partners / home), "--kill", "gpg-agent"], check=False
        )
