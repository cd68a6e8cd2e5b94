"""The public host expires, on its own rule, what the unit no longer needs it to keep."""

import secrets
from datetime import datetime, timedelta
from pathlib import Path

from source_app.db import create_tables, make_engine, make_session_factory
from source_app.models import Reply, Reporter, Submission
from source_app.services.maintenance import expire_leftovers
from source_app.storage import LocalBlobStore

NOW = datetime(2027, 6, 1, 12)


def _reporter(session, created: datetime) -> str:
    reporter_id = secrets.token_hex(16)
    session.add(
        Reporter(
            id=reporter_id,
            lookup_hash=secrets.token_bytes(32),
            public_key=secrets.token_bytes(32),
            created_hour=created,
        )
    )
    return reporter_id


def _reply(session, store, reporter_id: str, received: datetime) -> str:
    ref = store.put(b"sealed reply " + secrets.token_bytes(16))
    session.add(
        Reply(
            id=secrets.token_hex(16),
            reporter_id=reporter_id,
            blob_key=ref.key,
            received_hour=received,
        )
    )
    return ref.key


def test_old_replies_and_idle_reporters_expire_and_waiting_reports_stay(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    create_tables(engine)
    store = LocalBlobStore(tmp_path / "blobs")
    with make_session_factory(engine)() as session:
        idle = _reporter(session, NOW - timedelta(days=400))
        recent = _reporter(session, NOW - timedelta(days=10))
        waiting = _reporter(session, NOW - timedelta(days=400))
        answered = _reporter(session, NOW - timedelta(days=400))
        session.flush()
        session.add(
            Submission(
                id=secrets.token_hex(16),
                reporter_id=waiting,
                kind="report",
                received_hour=NOW - timedelta(days=400),
            )
        )
        old_key = _reply(session, store, idle, NOW - timedelta(days=200))
        fresh_key = _reply(session, store, answered, NOW - timedelta(days=20))
        session.commit()

        result = expire_leftovers(session, store, reply_days=180, reporter_days=365, now=NOW)

        assert (result.replies_removed, result.reporters_removed) == (1, 1)
        assert session.get(Reporter, idle) is None
        for kept in (recent, waiting, answered):
            assert session.get(Reporter, kept) is not None
        keys = {key for key, _ in store.keys()}  # noqa: SIM118 (a BlobStore, not a dict)
        assert old_key not in keys and fresh_key in keys

        # 0 days: keep forever.
        assert expire_leftovers(
            session, store, reply_days=0, reporter_days=0, now=NOW + timedelta(days=9999)
        ) == type(result)(0, 0)
    engine.dispose()
