"""The takedown notice to a hosting platform: the second kind of packet.

Shaped like a notice under Article 16 of the EU Digital Services Act and a removal order
under the TCO Regulation (EU) 2021/784: the exact addresses, the legal ground, a
statement of reasons, who sends it, in the platform's language (fr, en or ar). No
reporter identity, ever. Platforms seldom hold an OpenPGP key, so the notice is not
encrypted: it is signed with the unit's key (a detached signature beside the PDF and
its JSON twin). It leaves like a referral (sending.py, audited with its hash) and is
tracked sent → removed, an officer marking the removal.
"""

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crypto.openpgp import IsolatedGnuPG
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Referral
from journalist_app.referral.directory import current_directory
from journalist_app.referral.documents import TAKEDOWN_LANGUAGES, Takedown, takedown_pdf
from journalist_app.referral.dossier import read_case
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import REFERABLE, new_reference, sha256_file
from journalist_app.referral.sending import get_referral
from journalist_app.referral.unit_key import signing_key
from journalist_app.roles import Permission, Principal, requires
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.events import record_case_event
from journalist_app.triage.urls import refang
from journalist_app.triage.workflow import get_case

MIN_STATEMENT_CHARS = 20
MAX_STATEMENT_CHARS = 4000


def takedown_names(reference: str) -> dict[str, str]:
    return {
        "notice": f"{reference}-takedown.pdf",
        "document": f"{reference}-takedown.json",
        "signature": f"{reference}-takedown.pdf.sig",
        "document_signature": f"{reference}-takedown.json.sig",
    }


@requires(Permission.REFERRALS_SEND)
def build_takedown(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    data_dir: Path,
    case_id: int,
    *,
    platform: str,
    language: str,
    qualification_id: str,
    statement: str,
    now: datetime | None = None,
) -> Referral:
    """Write and sign the notice for every web address of the case. Commits."""
    now = (now or utc_now()).replace(microsecond=0)
    case = get_case(session, case_id)
    if case.status not in REFERABLE:
        raise ReferralRefused("wrong_status", f"a {case.status} case cannot be notified")
    platform = " ".join(platform.split())[:64]
    statement = statement.strip()
    if not platform:
        raise ReferralRefused("unknown_partner", "name the platform")
    if language not in TAKEDOWN_LANGUAGES:
        raise ReferralRefused("unknown_partner", "the notice is written in fr, en or ar")
    if not MIN_STATEMENT_CHARS <= len(statement) <= MAX_STATEMENT_CHARS:
        raise ReferralRefused("statement", "the statement of reasons is 20 to 4000 characters")
    directory = current_directory(session)
    qualification = directory.qualifications.get(qualification_id)
    if qualification is None:
        raise ReferralRefused("unknown_qualification", "choose a qualification from the list")
    unit_key = signing_key(session, keyring)
    reference = new_reference(now)
    facts = read_case(session, store, keyring, case, reference)
    urls: list[str] = []
    seen: set[str] = set()
    for url in facts.urls:
        # Exact locations, as a platform finds them: refanged, one per canonical address.
        fanged = refang(url.raw).strip()
        shown = fanged if "://" in fanged else f"https://{fanged}"
        if url.canonical and url.canonical not in seen:
            seen.add(url.canonical)
            urls.append(shown)
    if not urls:
        raise ReferralRefused("no_urls", "the case names no web address to take down")
    notice = Takedown(
        reference=reference,
        created_at=now,
        unit=directory.unit,
        platform=platform,
        language=language,
        urls=tuple(urls),
        qualification=qualification,
        statement=statement,
        category=case.category,
    )
    names = takedown_names(reference)
    relative = Path("referrals") / reference
    folder = data_dir / relative
    folder.mkdir(parents=True, mode=0o700)
    try:
        (folder / names["notice"]).write_bytes(takedown_pdf(notice))
        (folder / names["document"]).write_bytes(_document(notice))
        with IsolatedGnuPG() as gpg:
            signer = gpg.import_secret(unit_key.secret_key, unit_key.passphrase)
            for signed, signature in (("notice", "signature"), ("document", "document_signature")):
                gpg.sign_detached(
                    folder / names[signed],
                    folder / names[signature],
                    signer=signer,
                    passphrase=unit_key.passphrase,
                )
        files = {
            kind: {
                "name": name,
                "sha256": sha256_file(folder / name),
                "size": (folder / name).stat().st_size,
                "to": [],
            }
            for kind, name in names.items()
        }
        referral = Referral(
            case_id=case.id,
            kind="takedown",
            reference=reference,
            status="built",
            directory_sha256=directory.sha256,
            qualification_id=qualification_id,
            signer_fingerprint=unit_key.fingerprint,
            folder=str(relative),
            manifest={"urls": urls},
            files=files,
            packet_sha256=str(files["notice"]["sha256"]),
            created_at=now,
            created_by=keyring.username,
            platform=platform,
        )
        session.add(referral)
        record_case_event(
            session,
            case.id,
            keyring,
            audit.Action.REFERRAL_BUILT,
            {
                "reference": reference,
                "kind": "takedown",
                "packet_sha256": referral.packet_sha256,
                "platform": platform,
                "language": language,
                "urls": len(urls),
                "qualification": qualification_id,
            },
            now=now,
        )
        session.commit()
    except BaseException:
        session.rollback()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return referral


def _document(notice: Takedown) -> bytes:
    """The notice as data (DSA Art. 16(2) elements), for a platform's intake systems."""
    document = {
        "type": "notice_of_illegal_content",
        "shape": ["EU 2022/2065 art. 16", "EU 2021/784"],
        "reference": notice.reference,
        "date": notice.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sender": {
            "name": notice.unit.name_fr,
            "role": notice.unit.signing_role_fr,
            "email": notice.unit.key_email,
        },
        "recipient": notice.platform,
        "language": notice.language,
        "exact_locations": list(notice.urls),
        "legal_ground": {
            "id": notice.qualification.id,
            "fr": notice.qualification.label_fr,
            "ar": notice.qualification.label_ar,
        },
        "statement_of_reasons": notice.statement,
        "good_faith_statement": True,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


@requires(Permission.REFERRALS_SEND)
def mark_removed(
    session: Session, actor: Principal, reference: str, now: datetime | None = None
) -> Referral:
    """An officer saw the content gone: the takedown notice is ``removed``. Commits."""
    now = now or utc_now()
    referral = get_referral(session, reference)
    if referral.kind != "takedown" or referral.sent_at is None:
        raise ReferralRefused("wrong_status", "only a sent takedown notice can be marked removed")
    referral.status, referral.removed_at = "removed", now
    record_case_event(
        session,
        referral.case_id,
        actor,
        audit.Action.REFERRAL_REMOVED,
        {
            "reference": reference,
            "packet_sha256": referral.packet_sha256,
            "urls": hashlib.sha256(json.dumps(referral.manifest).encode()).hexdigest(),
        },
        now=now,
    )
    session.commit()
    return referral
