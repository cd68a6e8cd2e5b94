"""``python -m bench --referral``: build, sign and encrypt one referral packet (issue 12).

A triaged case of one report with N attachments of M MiB each (random bytes: media do
not compress), in a temporary data dir with the default directory (every partner given
a fresh Ed25519/Cv25519 key) and the unit's OpenPGP key. Setting up is not timed. The
build then runs in a fresh child process (``python -m bench.referral DATA_DIR``), so
its peak RSS is the build's own: ``build_packet`` decrypts each evidence envelope,
hashes it, writes the PDF dossiers (ar, fr), the prosecutor notice, the CASE/UCO
record and the manifest, and signs and encrypts the tar with GnuPG, streamed.

Targets (issue 12): under 5 s and under 200 MB peak for 10 attachments of 10 MB.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl.encoding import HexEncoder
from nacl.public import PrivateKey
from sqlalchemy.orm import Session

from bench.harness import RssSampler, _rss_kib
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.keys import key_id_hex
from crypto.openpgp import IsolatedGnuPG
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, Officer, Report, ReportBlob, UnitKey
from journalist_app.referral.demo import DemoPartner, directory_with_demo_keys
from journalist_app.referral.directory import DEFAULT_FILE, current_directory, propose
from journalist_app.referral.packet import ReferralRequest, build_packet
from journalist_app.referral.partners import import_directory
from journalist_app.referral.unit_key import create_unit_key
from journalist_app.sync.blob_store import BlobStore, LocalBlobStore
from journalist_app.sync.blob_store_s3 import open_blob_store
from journalist_app.triage.ingest import index_pending, register_report
from journalist_app.triage.workflow import change_status, set_territory

TARGET_SECONDS = 5.0
TARGET_MIB = 200.0
_KEYS_FILE = "bench-keys.json"


def _config(data_dir: Path) -> OfficerConfig:
    return OfficerConfig.from_env(
        {"IBLAGH_DATA_DIR": str(data_dir), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}
    )


def _keyring(session: Session, intake: PrivateKey, identity: PrivateKey) -> UnlockedKeyring:
    officer = session.query(Officer).filter_by(username="bench").one()
    return UnlockedKeyring(
        username="bench",
        intake_keys={key_id_hex(bytes(intake.public_key)): intake},
        identity_keys={key_id_hex(bytes(identity.public_key)): identity},
        officer_id=officer.id,
        role="supervisor",
        session_epoch=officer.session_epoch,
    )


def _set_up(data_dir: Path, attachments: int, mib: int) -> int:
    """The unit, its directory and keys, and one triaged case; returns the case id."""
    config = _config(data_dir)
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    create_schema(engine)
    session = make_session_factory(engine)()
    intake, identity = PrivateKey.generate(), PrivateKey.generate()
    for role, key in (("intake", intake), ("identity", identity)):
        public = bytes(key.public_key)
        session.add(UnitKey(key_id=key_id_hex(public), role=role, public_key=public))
    session.add(
        Officer(
            username="bench",
            password_hash=b"not used: the bench hands out a keyring",
            public_key=os.urandom(32),
            wrapped_private_key=b"{}",
            role="supervisor",
        )
    )
    session.commit()
    keyring = _keyring(session, intake, identity)
    (data_dir / _KEYS_FILE).write_text(
        json.dumps(
            {
                "intake": intake.encode(HexEncoder).decode(),
                "identity": identity.encode(HexEncoder).decode(),
            }
        )
    )
    partners: dict[str, DemoPartner] = {}
    with IsolatedGnuPG() as gpg:
        for kind in ("police", "prosecutor"):
            partners[kind] = DemoPartner(kind, *gpg.generate(kind, f"{kind}@bench.invalid", None))
    text = directory_with_demo_keys(DEFAULT_FILE.read_text(encoding="utf-8"), partners)
    import_directory(session, keyring, text.encode())
    create_unit_key(session, keyring, current_directory(session))

    store = open_blob_store(config)
    report_id = os.urandom(16).hex()
    listed: list[dict[str, Any]] = []
    rows: list[ReportBlob] = []
    for index in range(1, attachments + 1):
        data = os.urandom(mib * 1024 * 1024)
        name = f"attachment-{index}"
        listed.append(
            {
                "blob": name,
                "name": f"capture {index}.mp4",
                "type": "video/mp4",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        sealed = seal_bytes(
            data,
            [intake.public_key],
            EnvelopeMetadata(kind="attachment", name=f"capture {index}.mp4"),
        )
        rows.append(_write(store, report_id, name, sealed))
    body = {
        "v": 1,
        "category": "incitement",
        "language": "ar",
        "description": "نشر هذا الحساب دعوة صريحة إلى العنف ضد سكان الحي " * 5,
        "urls": ["https://www.example.com/post/123"],
        "attachments": listed,
    }
    sealed_body = seal_bytes(
        json.dumps(body).encode(),
        [intake.public_key],
        EnvelopeMetadata(kind="report", content_type="application/json"),
    )
    rows.append(_write(store, report_id, "body", sealed_body))
    report = Report(
        id=report_id,
        kind="report",
        reporter_id=os.urandom(16).hex(),
        reporter_public_key=bytes(PrivateKey.generate().public_key),
        received_hour=datetime(2026, 11, 28, 18),
        blobs=rows,
    )
    session.add(report)
    register_report(session, report)
    session.commit()
    index_pending(session, store, keyring)
    case_id = int(session.query(Case.id).order_by(Case.id.desc()).limit(1).scalar() or 0)
    set_territory(session, keyring, case_id, "04.421")
    change_status(session, keyring, case_id, "triaged")
    session.close()
    engine.dispose()
    return case_id


def _write(store: BlobStore, report_id: str, name: str, data: bytes) -> ReportBlob:
    relative = store.relative_path(report_id, name)
    with store.writer(relative) as handle:
        handle.write(data)
    return ReportBlob(
        name=name, path=relative, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def _build(data_dir: Path, case_id: int) -> dict[str, Any]:
    """In the child: build the packet once; time, peak RSS of this process and of gpg."""
    config = _config(data_dir)
    engine = make_engine(config.database_url)
    session = make_session_factory(engine)()
    keys = json.loads((data_dir / _KEYS_FILE).read_text())
    keyring = _keyring(
        session,
        PrivateKey(keys["intake"].encode(), encoder=HexEncoder),
        PrivateKey(keys["identity"].encode(), encoder=HexEncoder),
    )
    case = session.get(Case, case_id)
    assert case is not None
    directory = current_directory(session)
    proposal = propose(directory, case.category, case.territory_code)
    assert proposal.police is not None and proposal.prosecutor is not None
    request = ReferralRequest(
        case_id=case_id,
        police_id=proposal.police.id,
        prosecutor_id=proposal.prosecutor.id,
        qualification_id=directory.qualifications_for(case.category)[0].id,
    )
    # Not ru_maxrss: Linux carries it across exec from the parent that forked us.
    before = _rss_kib(os.getpid())
    # This process plus its children (gpg), every 20 ms: gpg's own memory counts too.
    sampler = RssSampler(os.getpid(), interval=0.02)
    sampler.start()
    began = time.perf_counter()
    try:
        referral = build_packet(session, LocalBlobStore(data_dir), keyring, data_dir, request)
    finally:
        seconds = time.perf_counter() - began
        sampler.stop()
    packet_bytes = sum(
        (data_dir / "referrals" / referral.reference / str(entry["name"])).stat().st_size
        for entry in referral.files.values()
    )
    return {
        "seconds": seconds,
        "rss_before_mib": before / 1024,
        "peak_gpg_rss_mib": sampler.peak_worker / 1024,
        "peak_total_mib": sampler.peak_total / 1024,
        "packet_mib": packet_bytes / 1024 / 1024,
    }


def run(attachments: int, mib: int, repeat: int) -> int:
    """Set up once, build ``repeat`` times (a child process each); print the figures."""
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-referral-") as tmp:
        data_dir = Path(tmp)
        print(f"  setting up a case with {attachments} x {mib} MiB ...", file=sys.stderr)
        case_id = _set_up(data_dir, attachments, mib)
        runs = []
        for number in range(1, repeat + 1):
            print(f"  build {number}/{repeat} ...", file=sys.stderr, flush=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench.referral", str(data_dir), str(case_id)],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                return 1
            runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"referral packet: {attachments} attachments x {mib} MiB, {repeat} build(s)")
    print("  build s   RSS MiB at start   peak gpg MiB   peak total MiB   packet MiB")
    for row in runs:
        print(
            f"  {row['seconds']:7.2f}   {row['rss_before_mib']:16.0f}"
            f"   {row['peak_gpg_rss_mib']:12.0f}   {row['peak_total_mib']:14.0f}"
            f"   {row['packet_mib']:10.1f}"
        )
    worst = max(row["seconds"] for row in runs)
    peak = max(row["peak_total_mib"] for row in runs)
    met = worst < TARGET_SECONDS and peak < TARGET_MIB
    print(
        f"targets: < {TARGET_SECONDS:g} s and < {TARGET_MIB:g} MiB (process + gpg): "
        f"worst {worst:.2f} s, {peak:.0f} MiB: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    print(json.dumps(_build(Path(sys.argv[1]), int(sys.argv[2]))))
