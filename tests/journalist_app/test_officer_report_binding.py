"""The parts of a report are bound to its body (issue 9, items 1-3; docs/envelope.md).

Each test is an attack by a public host under the attacker's control, which edits its
own database and blob store: what it delivers is stored here as the sync stores it
(tests/support/triage.py), then read with the unit's keys. Before the binding these
attacks went unnoticed: a supervisor revealing report B saw reporter A's identity, a
forged follow-up joined a reporter's case, a dropped attachment left no trace.
"""

from collections.abc import Iterator
from datetime import datetime

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from crypto.contents import envelope_sha256, new_binding
from crypto.encoding import b64encode
from journalist_app.models import AuditEntry, IdentityReveal, Report, ReportTriage
from journalist_app.triage.binding import binding_of, problems_of
from journalist_app.triage.errors import IdentityNotBound
from journalist_app.triage.identity import reveal_identity
from journalist_app.triage.ingest import index_pending
from tests.support.triage import TriageWorld, make_world

NOW = datetime(2026, 11, 29, 9)
REASON = "The prosecutor asked to hear the witness in case 2026/114."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


def _blob(world: TriageWorld, report_id: str, name: str) -> bytes:
    report = world.session.get(Report, report_id)
    blob = report.blob(name)
    with world.store.open(blob.path) as handle:
        return handle.read()


def _drop(world: TriageWorld, report_id: str, name: str) -> None:
    """The public host deletes one blob of a submission before the officer pulls it."""
    report = world.session.get(Report, report_id)
    report.blobs = [blob for blob in report.blobs if blob.name != name]
    world.session.commit()


def _case(world: TriageWorld, report_id: str) -> int:
    return world.session.get(ReportTriage, report_id).case_id


def _problems(world: TriageWorld, report_id: str) -> list[str]:
    return problems_of(binding_of(world.session, report_id))


def _audited(world: TriageWorld, action: str) -> list[AuditEntry]:
    return list(world.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _reveal(world: TriageWorld, report_id: str):  # type: ignore[no-untyped-def]
    return reveal_identity(
        world.session, world.store, world.supervisor, _case(world, report_id), report_id, REASON
    )


def test_a_bound_identity_is_revealed(world) -> None:
    report = world.add_report({"category": "fraud"}, identity="Amina")
    index_pending(world.session, world.store, world.supervisor)
    assert _problems(world, report) == []
    assert _reveal(world, report).full_name == "Amina"


def test_an_identity_copied_onto_an_anonymous_report_is_never_revealed(world) -> None:
    """Attack 1: A's sealed identity copied onto made-up anonymous report B."""
    a = world.add_report({"category": "fraud"}, identity="Amina Reporter")
    b = world.add_report({"category": "fraud"}, raw_blobs={"identity": _blob(world, a, "identity")})
    index_pending(world.session, world.store, world.supervisor)

    assert _problems(world, b) == ["identity_unexpected"]
    [flagged] = _audited(world, "report.binding_problem")
    assert flagged.target == f"report:{b}"
    with pytest.raises(IdentityNotBound):
        _reveal(world, b)
    [refused] = _audited(world, "identity.binding_refused")
    assert refused.actor == world.supervisor.username
    assert world.session.scalar(select(IdentityReveal).where(IdentityReveal.report_id == b)) is None
    assert _reveal(world, a).full_name == "Amina Reporter"


def test_an_identity_under_a_forged_body_naming_its_hash_is_refused_at_reveal(world) -> None:
    """Attack 1, stronger: the host writes B's body itself and names A's identity hash."""
    a = world.add_report({"category": "fraud"}, identity="Amina Reporter")
    stolen = _blob(world, a, "identity")
    forger = SigningKey.generate()
    body = world.signed_body(
        {
            "category": "fraud",
            "attachments": [],
            "binding": new_binding(),
            "identity": {"sha256": envelope_sha256(stolen)},
            "reporter_verify_key": b64encode(bytes(forger.verify_key)),
        },
        forger,
    )
    b = world.add_report(body, raw_blobs={"identity": stolen})
    index_pending(world.session, world.store, world.supervisor)
    assert _problems(world, b) == []  # the hash matches: only the sealed binding tells

    with pytest.raises(IdentityNotBound):
        _reveal(world, b)
    [refused] = _audited(world, "identity.binding_refused")
    assert "identity_binding" in refused.details


def test_a_dropped_identity_is_caught(world) -> None:
    report = world.add_report({"category": "fraud"}, identity="Amina")
    _drop(world, report, "identity")
    index_pending(world.session, world.store, world.supervisor)
    assert _problems(world, report) == ["identity_missing"]
    assert _audited(world, "report.binding_problem")


def test_an_identity_under_an_unbound_version_1_body_is_not_revealed(world) -> None:
    report = world.add_report({"category": "fraud"}, identity="Amina", version=1)
    index_pending(world.session, world.store, world.supervisor)
    assert _problems(world, report) == ["identity_unbound"]
    with pytest.raises(IdentityNotBound):
        _reveal(world, report)


def test_a_signed_follow_up_joins_its_reporters_case(world) -> None:
    first = world.add_report({"category": "fraud"}, reporter_id="ab" * 16)
    follow_up = world.add_report({"category": "followup"}, reporter_id="ab" * 16, kind="followup")
    assert _case(world, first) != _case(world, follow_up), "not before its signature is read"
    index_pending(world.session, world.store, world.supervisor)
    assert _case(world, first) == _case(world, follow_up)
    assert binding_of(world.session, follow_up).signed
    assert _problems(world, follow_up) == []


@pytest.mark.parametrize("forgery", ["other key", "unsigned"])
def test_a_forged_follow_up_stays_a_separate_unverified_submission(world, forgery) -> None:
    """Attack 2: the host lists a follow-up of its own under a reporter's id."""
    first = world.add_report({"category": "fraud"}, reporter_id="ab" * 16)
    forged = world.add_report(
        {"category": "followup", "description": "the reporter withdraws"},
        reporter_id="ab" * 16,
        kind="followup",
        sign_with=SigningKey.generate() if forgery == "other key" else None,
        version=1 if forgery == "unsigned" else 2,
    )
    index_pending(world.session, world.store, world.supervisor)
    assert _case(world, first) != _case(world, forged)
    assert _problems(world, forged) == ["unverified_followup"]
    assert not binding_of(world.session, forged).signed
    assert _audited(world, "report.binding_problem")


def test_a_replayed_follow_up_is_flagged(world) -> None:
    first = world.add_report({"category": "fraud"}, reporter_id="ab" * 16)
    follow_up = world.add_report({"category": "followup"}, reporter_id="ab" * 16, kind="followup")
    replay = world.add_report(
        _blob(world, follow_up, "body"), reporter_id="ab" * 16, kind="followup"
    )
    # The body blob is sealed again by add_report: deliver the original ciphertext.
    report = world.session.get(Report, replay)
    with world.store.writer(report.blob("body").path) as handle:
        handle.write(_blob(world, follow_up, "body"))
    index_pending(world.session, world.store, world.supervisor)
    assert first and "binding_replayed" in _problems(world, replay)


def test_dropped_extra_and_swapped_attachments_are_each_flagged(world) -> None:
    """Attack 3: the host drops one file, swaps another, and adds one of its own."""
    other = world.add_report({"category": "hate"}, attachments=[("x.png", PNG + b"other")])
    report = world.add_report(
        {"category": "hate"},
        attachments=[("a.png", PNG), ("b.png", PNG + b"b"), ("c.png", PNG + b"c")],
    )
    _drop(world, report, "attachment-2")
    stored = world.session.get(Report, report)
    with world.store.writer(stored.blob("attachment-3").path) as handle:
        handle.write(_blob(world, other, "attachment-1"))
    extra = world.seal(PNG + b"planted", "attachment", name="planted.png")
    relative = world.store.relative_path(report, "attachment-4")
    with world.store.writer(relative) as handle:
        handle.write(extra)
    from journalist_app.models import ReportBlob

    stored.blobs.append(
        ReportBlob(
            name="attachment-4", path=relative, size=len(extra), sha256=envelope_sha256(extra)
        )
    )
    world.session.commit()

    index_pending(world.session, world.store, world.supervisor)

    assert _problems(world, report) == [
        "attachment_missing:attachment-2",
        "attachment_altered:attachment-3",
        "attachment_extra:attachment-4",
    ]
    assert _problems(world, other) == []
    [entry] = [
        e for e in _audited(world, "report.binding_problem") if e.target == f"report:{report}"
    ]
    assert "attachment_missing:attachment-2" in entry.details


@pytest.mark.parametrize(
    ("lang", "forged_marker", "missing_file"),
    [
        (
            "en",
            "Unverified follow-up",
            "File attachment-2 is listed by the report but did not arrive.",
        ),
        ("fr", "Complément non vérifié", "Le fichier attachment-2 figure dans le signalement"),
        ("ar", "متابعة غير موثقة", "الملف attachment-2 مذكور في التبليغ"),
        ("es", "Seguimiento no verificado", "El archivo attachment-2 figura en la denuncia"),
    ],
)
def test_the_case_page_shows_each_problem_translated(
    world, lang, forged_marker, missing_file
) -> None:
    from journalist_app import create_app
    from tests.support.triage import log_in

    url = "https://example.org/same"
    first = world.add_report(
        {"category": "hate", "urls": [url]},
        reporter_id="ab" * 16,
        attachments=[("a.png", PNG), ("b.png", PNG + b"b")],
    )
    _drop(world, first, "attachment-2")
    # Same address: grouped into the case by content, yet never as "same reporter".
    forged = world.add_report(
        {"category": "followup", "urls": [url]},
        reporter_id="ab" * 16,
        kind="followup",
        sign_with=SigningKey.generate(),
    )
    index_pending(world.session, world.store, world.supervisor)
    app = create_app(world.config)
    client = app.test_client()
    log_in(app, client, world.supervisor)
    pages = {
        client.get(f"/cases/{_case(world, r)}?lang={lang}").get_data(as_text=True)
        for r in (first, forged)
    }
    html = "".join(pages)
    assert forged_marker in html
    assert missing_file in html
    assert 'data-problem="unverified_followup"' in html
    assert 'data-problem="attachment_missing:attachment-2"' in html
    if lang == "en":
        assert "Same reporter as report" not in html


def test_over_the_real_sync_a_hosts_moved_identity_is_flagged_and_not_revealed(
    db, config, synced_config, unit, mailbox
) -> None:
    """Attack 1 end to end: the host serves A's identity envelope as B's, the officer syncs."""
    from journalist_app.keys.custody import unlock
    from journalist_app.sync.blob_store import LocalBlobStore
    from journalist_app.sync.pull import run_sync
    from tests.support.bound import bound_parts

    keys = unit.recipient_set
    a = bound_parts(
        {"category": "terrorism"},
        keys.public_keys(),
        {"full_name": "Amina Reporter", "phone": "+212612345678"},
        keys.identity_public_keys(),
    )
    b = bound_parts({"category": "terrorism", "description": "made up"}, keys.public_keys())
    mailbox.add(a)
    forged = mailbox.add({**b, "identity": a["identity"]})
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    run_sync(db, synced_config, supervisor)

    db.expire_all()
    assert problems_of(binding_of(db, forged.id)) == ["identity_unexpected"]
    case_id = db.get(ReportTriage, forged.id).case_id
    with pytest.raises(IdentityNotBound):
        reveal_identity(db, LocalBlobStore(config.data_dir), supervisor, case_id, forged.id, REASON)
    assert db.scalar(select(IdentityReveal).where(IdentityReveal.report_id == forged.id)) is None
