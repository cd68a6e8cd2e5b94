"""The referral packet: one action; stock GnuPG on the receiving side opens and checks it."""

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from journalist_app.errors import PermissionDenied
from journalist_app.models import AuditEntry, IdentityReveal, Referral, ReferralDirectory
from journalist_app.referral.directory import current_directory
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import ReferralRequest, build_packet, packet_file
from journalist_app.referral.unit_key import current_unit_key
from tests.support.referral import (
    ARABIC_FACTS,
    FRENCH_FACTS,
    partner_keys,
    ready_unit,
    receiving_side,
    referable_case,
)
from tests.support.triage import ANALYST, EXPERT, SUPERVISOR, make_world

OTHER_CASE_TEXT = "TEXTE D'UNE AUTRE AFFAIRE qui ne doit jamais sortir"


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def unit(world):
    ready_unit(world, partner_keys())
    return world


def _build(world, case_id, keyring=None, **changes):
    request = ReferralRequest(
        case_id=case_id,
        police_id=changes.pop("police", "brpj-rabat"),
        prosecutor_id=changes.pop("prosecutor", "pgr-rabat"),
        qualification_id=changes.pop("qualification", "threats"),
        **changes,
    )
    return build_packet(
        world.session, world.store, keyring or world.analyst, world.config.data_dir, request
    )


def _open_as(world, referral, partner, tmp_path, kind="packet") -> tuple[Path, str]:
    """Decrypt with stock gpg and a keyring holding only ``partner``'s key and the unit's."""
    side = receiving_side(partner, current_unit_key(world.session).public_key)
    try:
        out = tmp_path / f"{partner.fingerprint[:8]}-{kind}.out"
        result = side.gpg(
            "--output",
            str(out),
            "--decrypt",
            str(packet_file(world.config.data_dir, referral, kind)),
        )
        return (out if result.returncode == 0 else Path()), result.stderr.decode()
    finally:
        side.close()


def _extract(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (root,) = into.iterdir()
    return root


def test_the_receiving_unit_decrypts_and_verifies_with_stock_gpg(unit, tmp_path) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    unit_fingerprint = current_unit_key(unit.session).fingerprint

    archive, status = _open_as(unit, referral, keys.police, tmp_path)
    assert f"VALIDSIG {unit_fingerprint}" in status and "DECRYPTION_OKAY" in status
    root = _extract(archive, tmp_path / "police")
    assert root.name == referral.reference
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert names == [
        "dossier-ar.pdf",
        "dossier-fr.pdf",
        "evidence/1-1-preuve_0.jpg",
        "evidence/1-2-preuve_1.jpg",
        "manifest.sha256",
        "provenance.jsonld",
    ]
    # The manifest matches every file (sha256sum -c, as the receiving side would check).
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "manifest.sha256"], cwd=root, capture_output=True
    )
    assert check.returncode == 0, check.stdout
    assert len(check.stdout.splitlines()) == 5

    # The prosecutor opens the same packet with their own key only.
    _, status = _open_as(unit, referral, keys.prosecutor, tmp_path)
    assert "DECRYPTION_OKAY" in status

    # The detached signature checks the encrypted file without opening it.
    side = receiving_side(keys.police, current_unit_key(unit.session).public_key)
    try:
        packet = packet_file(unit.config.data_dir, referral, "packet")
        verified = side.gpg(
            "--verify", str(packet_file(unit.config.data_dir, referral, "signature")), str(packet)
        )
        assert (
            verified.returncode == 0 and f"VALIDSIG {unit_fingerprint}".encode() in verified.stderr
        )
        data = packet.read_bytes()
        packet.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
        tampered = side.gpg(
            "--verify", str(packet_file(unit.config.data_dir, referral, "signature")), str(packet)
        )
        assert tampered.returncode != 0 and b"BADSIG" in tampered.stderr
    finally:
        side.close()


def test_a_third_party_key_opens_nothing(unit, tmp_path) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    archive, status = _open_as(unit, referral, keys.terrorism_police, tmp_path)
    assert archive == Path() and "DECRYPTION_OKAY" not in status


def test_the_notice_goes_to_the_prosecutor_only(unit, tmp_path) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    notice, status = _open_as(unit, referral, keys.prosecutor, tmp_path, kind="notice")
    assert "DECRYPTION_OKAY" in status
    text = subprocess.run(
        ["pdftotext", str(notice), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "Avis au parquet" in text and "إشعار النيابة العامة" in text
    assert referral.reference in text
    nothing, _ = _open_as(unit, referral, keys.police, tmp_path, kind="notice")
    assert nothing == Path()


def test_the_arabic_dossier_holds_the_facts_in_logical_order(unit, tmp_path) -> None:
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    root = _extract(_open_as(unit, referral, partner_keys().police, tmp_path)[0], tmp_path / "x")
    arabic = subprocess.run(
        ["pdftotext", str(root / "dossier-ar.pdf"), "-"], capture_output=True, check=True
    ).stdout.decode()
    # pdftotext gives the logical (reading) order of right-to-left text.
    assert ARABIC_FACTS in arabic
    # (pdftotext splits the lam-alef ligature, so the words checked here have none.)
    assert "المرجع" in arabic and "الوقائع المبلغ عنها" in arabic
    assert "الفرقة الجهوية للشرطة القضائية بالرباط" in arabic
    french = subprocess.run(
        ["pdftotext", str(root / "dossier-fr.pdf"), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "Dossier de renvoi" in french and FRENCH_FACTS in french
    assert "Menaces (Code pénal, art. 425 à 429)" in french
    for item in referral.custody:
        if "sha256" in item:
            assert item["sha256"] in french and item["envelope_sha256"] in french


def test_nothing_internal_leaks_into_the_packet(unit, tmp_path) -> None:
    other = unit.add_report(
        {
            "category": "hate",
            "language": "fr",
            "description": OTHER_CASE_TEXT,
            "urls": ["https://other.example/x"],
        }
    )
    case_id, report_ids = referable_case(unit)
    referral = _build(unit, case_id)
    root = _extract(_open_as(unit, referral, partner_keys().police, tmp_path)[0], tmp_path / "x")
    texts = []
    for path in root.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("latin-1"))
            if path.suffix == ".pdf":
                texts.append(
                    subprocess.run(
                        ["pdftotext", str(path), "-"], capture_output=True, check=True
                    ).stdout.decode()
                )
    blob = "\n".join(texts)
    secrets_of_this_host = [
        *report_ids,
        other,
        OTHER_CASE_TEXT,
        "other.example",
        ANALYST,
        SUPERVISOR,
        EXPERT,
        str(unit.config.data_dir),
        f"case:{case_id}",
        "report_id",
    ]
    for needle in secrets_of_this_host:
        assert needle not in blob, needle
    assert ARABIC_FACTS in blob


def test_the_provenance_record_validates_against_the_case_ontology(unit, tmp_path) -> None:
    case_validate = pytest.importorskip("case_utils.case_validate")
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    root = _extract(_open_as(unit, referral, partner_keys().police, tmp_path)[0], tmp_path / "x")
    record = root / "provenance.jsonld"
    result = case_validate.validate(str(record), case_version="case-1.5.0")
    assert result.conforms, result.text
    graph = json.loads(record.read_text())["@graph"]
    hashes = {
        h["uco-types:hashValue"]["@value"].lower()
        for node in graph
        for facet in node.get("uco-core:hasFacet", [])
        for h in facet.get("uco-observable:hash", [])
    }
    manifest = (root / "manifest.sha256").read_text().split()
    assert (
        set(manifest[0::2])
        - {hashlib.sha256((root / "provenance.jsonld").read_bytes()).hexdigest()}
        <= hashes
    )


def test_the_build_is_one_audited_action_and_every_opening_is_logged(unit) -> None:
    case_id, _report_ids = referable_case(unit)
    before = unit.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    referral = _build(unit, case_id)
    entries = unit.session.scalars(
        select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)
    ).all()
    actions = [e.action for e in entries]
    # Two bodies and two files opened for the packet, then the packet itself.
    assert actions == ["referral.evidence_opened"] * 4 + ["referral.built"]
    built = json.loads(entries[-1].details)
    assert built["packet_sha256"] == referral.packet_sha256 == referral.files["packet"]["sha256"]
    assert all(referral.reference in e.details for e in entries)
    assert referral.status == "built" and referral.sent_at is None


def test_choosing_other_recipients_needs_a_reason(unit) -> None:
    case_id, _ = referable_case(unit)
    with pytest.raises(ReferralRefused) as refused:
        _build(unit, case_id, police="brpj-fes")
    assert refused.value.code == "override_reason"
    referral = _build(
        unit,
        case_id,
        police="brpj-fes",
        override_reason="The suspect lives in Fès, per the platform's reply.",
    )
    assert (referral.police_id, referral.proposed_police_id) == ("brpj-fes", "brpj-rabat")
    assert "Fès" in referral.override_reason


def test_an_identity_goes_only_with_a_supervisor_and_as_its_own_part(unit, tmp_path) -> None:
    keys = partner_keys()
    case_id, _report_ids = referable_case(unit, identity="Amina El Idrissi")
    reason = "The prosecutor asked to hear the reporter as a witness."
    with pytest.raises(ReferralRefused) as refused:
        _build(unit, case_id, include_identity=True, identity_reason=reason)
    assert refused.value.code == "identity_not_approved"
    without = _build(unit, case_id)
    assert "identity" not in without.files
    referral = _build(unit, case_id, unit.supervisor, include_identity=True, identity_reason=reason)
    identity, status = _open_as(unit, referral, keys.police, tmp_path, kind="identity")
    assert "DECRYPTION_OKAY" in status
    document = json.loads(identity.read_text())
    assert document["reporters"][0]["full_name"] == "Amina El Idrissi"
    archive, _ = _open_as(unit, referral, keys.police, tmp_path)
    assert b"Amina" not in archive.read_bytes()
    reveal = unit.session.scalars(
        select(IdentityReveal).where(IdentityReveal.case_id == case_id)
    ).one()
    assert reveal.officer == SUPERVISOR and referral.reference in reveal.reason


def test_keys_are_checked_again_before_use(unit) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    # A directory row whose key has since been revoked (written without the import's check).
    current = current_directory(unit.session).text
    start = current.index('id = "pgr-rabat"')
    end = current.index("[[prosecutor]]", start)
    block = current[start:end]
    fingerprint_line = next(line for line in block.splitlines() if line.startswith("fingerprint"))
    key_start, key_end = (
        block.index('key = """'),
        block.index('"""', block.index('key = """') + 9) + 3,
    )
    revoked_block = block.replace(
        fingerprint_line, f'fingerprint = "{keys.revoked.fingerprint}"'
    ).replace(block[key_start:key_end], 'key = """\n' + keys.revoked.public.strip() + '\n"""')
    unit.session.add(
        ReferralDirectory(
            sha256="f" * 64,
            content=current[:start] + revoked_block + current[end:],
            imported_by="x",
        )
    )
    unit.session.commit()
    with pytest.raises(ReferralRefused) as refused:
        _build(unit, case_id)
    assert refused.value.code == "key_refused" and "revoked" in str(refused.value)
    assert unit.session.scalars(select(Referral)).all() == []
    assert list((unit.config.data_dir / "referrals").iterdir()) == []


def test_roles_without_the_permission_cannot_refer(unit) -> None:
    case_id, _ = referable_case(unit)
    with pytest.raises(PermissionDenied):
        _build(unit, case_id, unit.expert)


def test_a_case_not_triaged_cannot_be_referred(unit) -> None:
    report = unit.add_report({"category": "hate", "language": "fr", "description": "x", "urls": []})
    from journalist_app.models import ReportTriage

    case_id = unit.session.get(ReportTriage, report).case_id
    with pytest.raises(ReferralRefused) as refused:
        _build(unit, case_id)
    assert refused.value.code == "wrong_status"


def test_an_identity_not_bound_to_its_report_is_never_referred(unit) -> None:
    """Issue 9, item 1: another reporter's identity envelope in place of the report's own."""
    from journalist_app.models import Report

    other = unit.add_report({"category": "fraud"}, identity="Someone Else")
    case_id, report_ids = referable_case(unit, identity="Amina El Idrissi")
    swapped = next(
        r for r in (unit.session.get(Report, i) for i in report_ids) if r.blob("identity")
    )
    with unit.store.open(unit.session.get(Report, other).blob("identity").path) as handle:
        foreign = handle.read()
    with unit.store.writer(swapped.blob("identity").path) as handle:
        handle.write(foreign)
    reason = "The prosecutor asked to hear the reporter as a witness."
    with pytest.raises(ReferralRefused) as refused:
        _build(unit, case_id, unit.supervisor, include_identity=True, identity_reason=reason)
    assert refused.value.code == "identity_not_bound"
