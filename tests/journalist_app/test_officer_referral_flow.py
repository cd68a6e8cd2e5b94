"""After the build: sending, the reporter told, acknowledgements, deadlines, custody, takedown."""

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crypto.openpgp import IsolatedGnuPG
from journalist_app.models import AuditEntry, Case, Referral
from journalist_app.referral.acknowledgement import import_acknowledgement
from journalist_app.referral.custody import verify_custody
from journalist_app.referral.deadlines import overdue_acknowledgements, overdue_referrals
from journalist_app.referral.directory import current_directory
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import ReferralRequest, build_packet, packet_file
from journalist_app.referral.sending import export_packet
from journalist_app.referral.takedown import build_takedown, mark_removed
from journalist_app.triage.workflow import change_status
from tests.support.referral import PartnerKey, partner_keys, ready_unit, referable_case
from tests.support.triage import make_world

DROP_TRIGGERS = "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;"


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def unit(world):
    ready_unit(world, partner_keys())
    return world


def _build(world, case_id) -> Referral:
    request = ReferralRequest(case_id, "brpj-rabat", "pgr-rabat", "threats")
    return build_packet(world.session, world.store, world.analyst, world.config.data_dir, request)


def _told(world, report_id) -> list[tuple[str, str | None]]:
    return [(r["status"], r["reason"]) for r in world.replies_to(report_id) if r.get("status")]


def _signed_by(partner: PartnerKey, text: str) -> bytes:
    with IsolatedGnuPG() as gpg:
        gpg.import_secret(partner.secret, None)
        return gpg.clearsign(text, signer=partner.fingerprint, passphrase=None).encode()


def _ack_text(referral: Referral, reference: str = "BRPJ-RABAT/2026/0413") -> str:
    return (
        "Accusé de réception / إشعار بالتوصل\n"
        f"Packet-SHA256: {referral.packet_sha256}\n"
        f"Reference: {reference}\n"
    )


def test_the_reporter_reads_referred_only_after_the_packet_left(unit, tmp_path) -> None:
    case_id, (first, second) = referable_case(unit)
    # An officer marks the case referred before any packet: the reporters are not told so.
    change_status(unit.session, unit.analyst, case_id, "referred")
    assert ("referred", None) not in _told(unit, first)
    referral = _build(unit, case_id)
    assert ("referred", None) not in _told(unit, first)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    assert _told(unit, first)[-1] == ("referred", None)
    assert _told(unit, second)[-1] == ("referred", None)
    # No internal unit reference reaches the reporter: only the coarse status.
    for reply in unit.replies_to(first):
        assert referral.reference not in json.dumps(reply) and "brpj" not in json.dumps(reply)


def test_sending_moves_the_case_and_is_audited_with_the_packet_hash(unit, tmp_path) -> None:
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    written = export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    assert sorted(p.name for p in written) == sorted(e["name"] for e in referral.files.values())
    assert (tmp_path / "usb" / f"{referral.reference}.tar.gpg").read_bytes() == packet_file(
        unit.config.data_dir, referral, "packet"
    ).read_bytes()
    assert unit.session.get(Case, case_id).status == "referred"
    assert referral.status == "sent" and referral.ack_due_at == referral.sent_at + timedelta(
        hours=48
    )
    exported = unit.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral.exported")
    ).one()
    assert json.loads(exported.details)["packet_sha256"] == referral.packet_sha256


def test_an_acknowledgement_round_trip(unit, tmp_path) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    result = import_acknowledgement(
        unit.session, unit.analyst, _signed_by(keys.police, _ack_text(referral))
    )
    assert result.signer.id == "brpj-rabat" and result.their_reference == "BRPJ-RABAT/2026/0413"
    referral = unit.session.get(Referral, referral.id)
    assert (referral.status, referral.their_reference) == ("acknowledged", "BRPJ-RABAT/2026/0413")
    assert referral.ack_signer == keys.police.fingerprint
    entry = unit.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral.acknowledged")
    ).one()
    assert referral.packet_sha256 in entry.details


def test_an_acknowledgement_from_another_key_or_for_another_packet_is_refused(
    unit, tmp_path
) -> None:
    keys = partner_keys()
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    forged = _signed_by(keys.terrorism_police, _ack_text(referral))
    with pytest.raises(ReferralRefused) as refused:
        import_acknowledgement(unit.session, unit.analyst, forged)
    assert refused.value.code == "bad_acknowledgement"
    unknown = _signed_by(keys.police, _ack_text(referral).replace(referral.packet_sha256, "a" * 64))
    with pytest.raises(ReferralRefused):
        import_acknowledgement(unit.session, unit.analyst, unknown)
    # Text added outside the signed block is not read.
    signed = _signed_by(keys.police, f"Packet-SHA256: {referral.packet_sha256}\nnothing else\n")
    with pytest.raises(ReferralRefused, match="no reference"):
        import_acknowledgement(unit.session, unit.analyst, signed + b"\nReference: SLIPPED-IN\n")
    assert unit.session.get(Referral, referral.id).status == "sent"


def test_overdue_acknowledgements_and_referrals_show(unit, tmp_path, monkeypatch) -> None:
    case_id, _ = referable_case(unit, category="terrorism")
    directory = current_directory(unit.session)
    now = unit.session.get(Case, case_id).received + timedelta(hours=7)
    assert [late.case_id for late in overdue_referrals(unit.session, directory, now)] == [case_id]
    referral = build_packet(
        unit.session,
        unit.store,
        unit.analyst,
        unit.config.data_dir,
        ReferralRequest(case_id, "bnpj", "pgr-rabat-terrorism", "terrorism-apology"),
    )
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    assert overdue_referrals(unit.session, directory, now) == []
    sent = referral.sent_at
    assert overdue_acknowledgements(unit.session, sent + timedelta(hours=23)) == []
    assert overdue_acknowledgements(unit.session, sent + timedelta(hours=25)) == [referral]


def test_custody_verify_walks_the_chain_and_finds_a_changed_file(unit, tmp_path) -> None:
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    check = verify_custody(unit.session, unit.store, unit.config.data_dir, case_id)
    assert check.intact, check.lines
    text = "\n".join(check.lines)
    assert "referral.built" in text and "referral.exported" in text
    assert "file 1.1: envelope" in text and "manifest evidence/1-1-" in text
    packet = packet_file(unit.config.data_dir, referral, "packet")
    packet.write_bytes(packet.read_bytes() + b"x")
    check = verify_custody(unit.session, unit.store, unit.config.data_dir, case_id)
    assert not check.intact and any("changed since it was built" in line for line in check.lines)


def test_custody_verify_finds_a_changed_evidence_envelope(unit) -> None:
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    item = next(i for i in referral.custody if i["blob"] == "attachment-1")
    path = unit.config.data_dir / unit.store.relative_path(item["report_id"], "attachment-1")
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    check = verify_custody(unit.session, unit.store, unit.config.data_dir, case_id)
    assert not check.intact
    changed = f"{item['item']}: the stored envelope changed"
    assert any(changed in line for line in check.lines), check.lines


def test_custody_verify_finds_a_removed_audit_entry(unit, tmp_path) -> None:
    case_id, _ = referable_case(unit)
    referral = _build(unit, case_id)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, referral.reference, tmp_path / "usb"
    )
    built = unit.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral.built")
    ).one()
    unit.session.close()
    database = Path(unit.config.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as raw:
        raw.executescript(DROP_TRIGGERS)
        raw.execute("DELETE FROM audit_entries WHERE id = ?", (built.id,))
    check = verify_custody(unit.session, unit.store, unit.config.data_dir, case_id)
    assert not check.intact
    assert any(line.startswith("BROKEN  audit chain") for line in check.lines)
    assert any("no audit entry referral.built" in line for line in check.lines)


def test_a_takedown_notice_is_signed_sent_and_marked_removed(unit, tmp_path) -> None:
    case_id, _ = referable_case(unit, identity="Amina El Idrissi")
    notice = build_takedown(
        unit.session,
        unit.store,
        unit.analyst,
        unit.config.data_dir,
        case_id,
        platform="Example Video",
        language="en",
        qualification_id="threats",
        statement="The video threatens a named family with violence, an offence in law.",
    )
    pdf = packet_file(unit.config.data_dir, notice, "notice")
    import subprocess

    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "Notice of illegal content" in text and "https://www.example.com/post/123" in text
    assert (
        "Amina" not in text
        and "Amina" not in packet_file(unit.config.data_dir, notice, "document").read_text()
    )
    document = json.loads(packet_file(unit.config.data_dir, notice, "document").read_text())
    assert document["exact_locations"] == [
        "https://www.example.com/post/123?utm_source=x",
        "https://bit.ly/abc",
    ]
    with pytest.raises(ReferralRefused):
        mark_removed(unit.session, unit.analyst, notice.reference)
    export_packet(
        unit.session, unit.analyst, unit.config.data_dir, notice.reference, tmp_path / "usb"
    )
    # A takedown notice is not a referral to the police: the reporter is not told "referred".
    assert unit.session.get(Case, case_id).status == "triaged"
    removed = mark_removed(unit.session, unit.analyst, notice.reference)
    assert removed.status == "removed" and removed.removed_at is not None
    # The signature checks with stock gpg and the unit's public key.
    from journalist_app.referral.unit_key import current_unit_key

    with IsolatedGnuPG() as gpg:
        home = gpg.home
        subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--import"],
            input=current_unit_key(unit.session).public_key.encode(),
            check=True,
            capture_output=True,
        )
        verified = subprocess.run(
            [
                "gpg",
                "--homedir",
                str(home),
                "--batch",
                "--status-fd",
                "1",
                "--verify",
                str(packet_file(unit.config.data_dir, notice, "signature")),
                str(pdf),
            ],
            capture_output=True,
        )
    assert verified.returncode == 0 and b"VALIDSIG" in verified.stdout
