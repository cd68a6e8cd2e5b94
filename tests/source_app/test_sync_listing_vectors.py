"""The real public host lists exactly what the sync listing vectors say (crypto/sync_api.py).

Each accepted vector is stored in the host's database and blob store as a submission,
then listed through the sync app with signed requests: the item must be the vector's
canonical form, and the officer's parser must accept the whole answer.
"""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from crypto.sync_api import (
    MAX_ATTACHMENTS,
    MAX_LIST,
    RefusedItem,
    blob_path,
    parse_listing,
    submissions_path,
)
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient, hold_submission

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "sync_listing_v1.json"
ACCEPTED: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["accepted"]


@pytest.fixture
def sync_app(source_data_dir: Path) -> Flask:
    return create_sync_app(SourceConfig.from_env(source_environ(source_data_dir)))


@pytest.fixture
def officer(sync_app: Flask, unit_keys: UnitKeys) -> SignedSyncClient:
    return SignedSyncClient(sync_app.test_client(), unit_keys.sync)


def contents_of(vector: dict[str, Any]) -> dict[str, bytes]:
    return {name: base64.b64decode(data) for name, data in vector["contents"].items()}


def listing(officer: SignedSyncClient, path: str) -> dict[str, Any]:
    response = officer.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


def test_the_public_host_lists_every_accepted_vector_in_its_canonical_form(
    sync_app: Flask, officer: SignedSyncClient
) -> None:
    for vector in ACCEPTED:
        hold_submission(sync_app, vector["item"], contents_of(vector))
    document = listing(officer, submissions_path(MAX_LIST))
    items = document["submissions"]
    assert [item["id"] for item in items] == [vector["item"]["id"] for vector in ACCEPTED]
    for item, vector in zip(items, ACCEPTED, strict=True):
        item["blobs"].sort(key=lambda blob: blob["name"])
        assert item == vector["canonical"], vector["description"]
    parsed = parse_listing(document)
    assert parsed.refused == () and len(parsed.submissions) == len(ACCEPTED)
    first = ACCEPTED[1]
    for name, data in contents_of(first).items():
        assert officer.get(blob_path(first["item"]["id"], name)).data == data


def test_after_lists_only_what_arrived_later(sync_app: Flask, officer: SignedSyncClient) -> None:
    for vector in ACCEPTED[:4]:
        hold_submission(sync_app, vector["item"], contents_of(vector))
    ids = [vector["item"]["id"] for vector in ACCEPTED[:4]]

    def listed(path: str) -> list[str]:
        return [item["id"] for item in listing(officer, path)["submissions"]]

    assert listed(submissions_path(2, after=ids[1])) == ids[2:4]
    assert listed(submissions_path(10, after=ids[3])) == []
    # An id the host no longer holds (acknowledged meanwhile): from the oldest.
    assert listed(submissions_path(10, after="f" * 32)) == ids
    assert officer.get("/sync/v1/submissions?after=XYZ").status_code == 400


def test_a_submission_over_the_ceiling_is_still_listed_so_the_officer_can_skip_it(
    sync_app: Flask, officer: SignedSyncClient
) -> None:
    """The builder writes what the host holds: hiding it would hide nothing but the cause."""
    crowded = dict(ACCEPTED[0]["item"], id="c" * 32)
    names = ["body", *[f"attachment-{n}" for n in range(1, MAX_ATTACHMENTS + 2)]]
    hold_submission(sync_app, crowded, {name: b"x" for name in names})
    later = ACCEPTED[1]
    hold_submission(sync_app, later["item"], contents_of(later))
    parsed = parse_listing(listing(officer, submissions_path()))
    [refused] = parsed.refused
    assert refused == RefusedItem("c" * 32, "too_many_attachments", refused.detail)
    assert [s.id for s in parsed.submissions] == [later["item"]["id"]]
