"""Demo cases for ``make run``: a quarter of made-up reports, so the dashboard has figures.

Only ``iblagh-officer demo-init`` calls this, on the data dir it made itself (it refuses
one holding real keys), and only while the database holds no case. Each report is sealed
to the unit's intake key and stored as the sync stores one, then read by the indexer, so
the queue and case pages open them like real ones; then each case is walked through the
workflow at made-up times (triage, territory, assignment, referral, closing). The notices
the workflow writes to made-up reporters are marked as sent: no public host knows them.
"""

import hashlib
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto.contents import ReportBody, new_binding
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, Reply, Report, ReportBlob, UnitKey
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage import statuses
from journalist_app.triage.errors import TriageError
from journalist_app.triage.ingest import index_pending, register_report
from journalist_app.triage.workflow import assign_case, change_status, set_territory

DEMO_CASES = 300
QUARTER = timedelta(days=91)
# Categories as a unit might see them: mostly fraud, hate and incitement.
_CATEGORY_WEIGHTS = {
    "fraud": 30,
    "hate": 16,
    "incitement": 14,
    "sextortion": 10,
    "illicit_trade": 8,
    "other": 8,
    "endangering": 5,
    "terrorism": 4,
    "threat_to_life": 3,
    "child_abuse": 2,
}
# Prefectures and provinces (journalist_app/data/territories.csv): the big cities more.
_TERRITORY_WEIGHTS = {
    "06.141": 18,  # Casablanca
    "04.421": 12,  # Rabat
    "04.441": 6,  # Salé
    "01.511": 8,  # Tanger-Assilah
    "03.231": 7,  # Fès
    "07.351": 7,  # Marrakech
    "09.001": 5,  # Agadir-Ida-Ou-Tanane
    "02.411": 4,  # Oujda-Angad
    "03.061": 4,  # Meknès
    "04.281": 3,  # Kénitra
    "01.571": 3,  # Tétouan
}
_DESCRIPTIONS = {
    "ar": [
        "صفحة تعرض ربحا سريعا وتطلب تحويل مبلغ مالي مسبقا.",
        "حساب ينشر رسائل كراهية ضد فئة من المواطنين.",
        "منشور يدعو إلى العنف ضد شخص معروف في الحي.",
        "شخص يهدد بنشر صور خاصة إذا لم يتم الدفع.",
    ],
    "fr": [
        "Une page promet un gain rapide contre un virement préalable.",
        "Un compte publie des messages haineux visant un groupe de citoyens.",
        "Une publication appelle à la violence contre une personne du quartier.",
        "Quelqu'un menace de publier des photos intimes contre paiement.",
    ],
}


@dataclass
class DemoSeed:
    reports: int = 0
    cases: int = 0


def seed_demo_cases(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    now: datetime,
    *,
    count: int = DEMO_CASES,
    seed: int = 14,
) -> DemoSeed:
    """Made-up reports received over the last quarter, indexed and worked on. Commits."""
    if session.scalar(select(Case.id).limit(1)) is not None:
        return DemoSeed()
    intake = session.scalars(
        select(UnitKey).where(UnitKey.role == "intake", UnitKey.retired_at.is_(None))
    ).first()
    if intake is None:
        return DemoSeed()
    rng = random.Random(seed)  # noqa: S311 (made-up figures, not secrets)
    recipient = PublicKey(intake.public_key)
    for _ in range(count):
        received = _received(rng, now)
        _store_report(session, store, recipient, rng, received)
    session.commit()
    index_pending(session, store, keyring, limit=count * 2)
    cases = list(session.scalars(select(Case).where(Case.status != statuses.MERGED)))
    for case in cases:
        _work_on(session, keyring, rng, case.id, case.received, now)
    # The notices to made-up reporters go nowhere.
    session.execute(update(Reply).where(Reply.pushed_at.is_(None)).values(pushed_at=now))
    session.commit()
    return DemoSeed(reports=count, cases=len(cases))


def _received(rng: random.Random, now: datetime) -> datetime:
    # More recent days get more reports, as a unit that became known would see.
    age: timedelta = QUARTER * (1 - rng.random() ** 0.7)
    received: datetime = now - age
    return received.replace(minute=0, second=0, microsecond=0)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _store_report(
    session: Session,
    store: BlobStore,
    recipient: PublicKey,
    rng: random.Random,
    received: datetime,
) -> None:
    """One report as the public host seals it and the sync stores it."""
    language = rng.choice(["ar", "fr"])
    signing_key = SigningKey.generate()
    reporter_key = PrivateKey.generate()
    body = ReportBody(
        category=_pick(rng, _CATEGORY_WEIGHTS),
        urls=(f"https://demo-{rng.randrange(120)}.example/{secrets.token_hex(3)}",),
        description=rng.choice(_DESCRIPTIONS[language]),
        language=language,
        platform=rng.choice(["facebook", "tiktok", "instagram", "x", "whatsapp", ""]),
        reporter_public_key=b64encode(bytes(reporter_key.public_key)),
        binding=new_binding(),
        identity_sha256=None,
        reporter_verify_key=b64encode(bytes(signing_key.verify_key)),
    )
    envelope = seal_bytes(
        body.to_signed_json(signing_key),
        [recipient],
        EnvelopeMetadata(kind="report", name="", content_type="application/json"),
    )
    report_id = secrets.token_hex(16)
    relative = store.relative_path(report_id, "body")
    with store.writer(relative) as handle:
        handle.write(envelope)
    report = Report(
        id=report_id,
        kind="report",
        reporter_id=secrets.token_hex(16),
        reporter_public_key=bytes(reporter_key.public_key),
        received_hour=received,
        blobs=[
            ReportBlob(
                name="body",
                path=relative,
                size=len(envelope),
                sha256=hashlib.sha256(envelope).hexdigest(),
            )
        ],
    )
    session.add(report)
    register_report(session, report, now=received)


def _work_on(
    session: Session,
    keyring: UnlockedKeyring,
    rng: random.Random,
    case_id: int,
    received: datetime,
    now: datetime,
) -> None:
    """Walk one case through the workflow at made-up times, never later than ``now``."""
    at = received + timedelta(hours=rng.uniform(1, 96))
    if at >= now or rng.random() < 0.12:
        return  # still new
    try:
        if rng.random() < 0.08:
            change_status(session, keyring, case_id, statuses.CLOSED, "duplicate", now=at)
            return
        change_status(session, keyring, case_id, statuses.TRIAGED, now=at)
        if rng.random() < 0.8:
            territory = _pick(rng, _TERRITORY_WEIGHTS)
            set_territory(session, keyring, case_id, territory, now=at)
        if rng.random() < 0.6:
            assign_case(session, keyring, case_id, keyring.officer_id, now=at)
        at += timedelta(hours=rng.uniform(4, 24 * 20))
        if at >= now:
            return
        fate = rng.random()
        if fate < 0.35:
            change_status(session, keyring, case_id, statuses.REFERRED, now=at)
        elif fate < 0.6:
            change_status(session, keyring, case_id, statuses.UNDER_INVESTIGATION, now=at)
        elif fate < 0.8:
            reason = rng.choice(["not_illegal", "insufficient_information", "handled"])
            change_status(session, keyring, case_id, statuses.CLOSED, reason, now=at)
    except TriageError:
        session.rollback()
