"""The tests' fake public host and the officer's parser pass the sync listing vectors.

The fake host (``Mailbox``, tests/journalist_app/conftest.py) writes its listing with the
contract's builder; here it must list every accepted vector in its canonical form, over
HTTP on 127.0.0.1, and the officer host must store each. A host that lists the refused
vectors as they are gets each refused with its reason and skipped, and the valid report
behind them still arrives (crypto/sync_api.py, docs/sync-api.md).
"""

import base64
import json
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.sync_api import MAX_LIST
from journalist_app.config import OfficerConfig
from journalist_app.keys.custody import unlock
from journalist_app.models import RefusedSubmission, Report
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import SyncEvent, run_sync
from tests.journalist_app.conftest import Mailbox, StoredSubmission, Unit

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "sync_listing_v1.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def hold(mailbox: Mailbox, item: dict[str, Any], contents: dict[str, str]) -> None:
    mailbox.submissions[item["id"]] = StoredSubmission(
        id=item["id"],
        kind=item["kind"],
        reporter_id=item["reporter_id"],
        reporter_key=PrivateKey.generate(),
        received_hour=item["received_hour"],
        blobs={name: base64.b64decode(data) for name, data in contents.items()},
        listed_reporter_key=base64.b64decode(item["reporter_public_key"]),
    )
    mailbox.replies.setdefault(item["reporter_id"], {})


class VectorMailbox(Mailbox):
    """Lists the refused vectors' items exactly as the vectors give them, then its own."""

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, environ: Any
    ) -> tuple[int, bytes, str]:
        status, payload, content_type = super()._route(method, path, query, body, environ)
        if method == "GET" and path.endswith("/submissions") and "after" not in query:
            document = json.loads(payload)
            refused = [vector["item"] for vector in VECTORS["refused"]]
            document["submissions"] = (refused + document["submissions"])[: int(query["limit"][0])]
            payload = json.dumps(document).encode()
        return status, payload, content_type


def test_the_fake_host_lists_every_accepted_vector_canonically_and_the_officer_stores_it(
    unit: Unit, db: Session, synced_config: OfficerConfig, mailbox: Mailbox
) -> None:
    for vector in VECTORS["accepted"]:
        hold(mailbox, vector["item"], vector["contents"])
    keyring = unlock(db, unit.username, unit.passphrase, synced_config.wrap_params)
    assert keyring.sync_key is not None
    listing, items = SyncClient(mailbox.url, keyring.sync_key).listing_as_sent(MAX_LIST)
    assert listing.refused == ()
    for item, vector in zip(items, VECTORS["accepted"], strict=True):
        assert isinstance(item, dict)
        item["blobs"].sort(key=lambda blob: blob["name"])
        assert item == vector["canonical"], vector["description"]

    result = run_sync(db, synced_config, keyring)
    assert (result.new, result.failed) == (len(VECTORS["accepted"]), 0)
    for vector in VECTORS["accepted"]:
        assert db.get(Report, vector["item"]["id"]) is not None


def test_every_refused_vector_is_skipped_and_recorded_and_the_report_behind_still_arrives(
    unit: Unit, db: Session, config: OfficerConfig
) -> None:
    from tests.journalist_app.test_officer_sync_limits import _config, _serve

    box = VectorMailbox(recipient_set=unit.recipient_set)
    with _serve(box):
        valid = box.add({"body": b"the report behind them"})
        events: list[SyncEvent] = []
        keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
        result = run_sync(db, _config(config.data_dir, box.url), keyring, events.append)
    assert db.get(Report, valid.id) is not None
    assert result.new == 1 and result.acknowledged == 1
    assert result.failed == len(VECTORS["refused"])
    # Every refusal that names an id is recorded with the vector's reason.
    recorded = set(db.scalars(select(RefusedSubmission.submission_id)))
    assert recorded == {v["submission_id"] for v in VECTORS["refused"] if v["submission_id"]}
    # The vectors share one id: its row counts every refusal and keeps the last reason.
    with_id = [v for v in VECTORS["refused"] if v["submission_id"]]
    row = db.get(RefusedSubmission, with_id[-1]["submission_id"])
    assert row is not None and row.reason == with_id[-1]["reason"]
    assert row.times == len(with_id) and row.source == "sync"
    assert all(event.kind == "failed" for event in events if event.id != valid.id)
