"""The public host keeps the officer host's audit anchors write-once (issue 9, item 6)."""

from pathlib import Path

import pytest
from flask import Flask

from crypto.audit_anchor import Checkpoint, sign_checkpoint
from crypto.keys import generate_signing_key
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient

HEAD_A = "a" * 64
HEAD_B = "b" * 64


@pytest.fixture
def officer(source_data_dir: Path, database_url: str, unit_keys: UnitKeys) -> SignedSyncClient:
    config = SourceConfig.from_env(source_environ(source_data_dir, database_url))
    app: Flask = create_sync_app(config)
    return SignedSyncClient(app.test_client(), unit_keys.sync)


def _anchor(unit_keys: UnitKeys, count: int, head: str, time: str = "2026-12-05T10:00:00Z"):
    return sign_checkpoint(Checkpoint(count, head, time), unit_keys.sync)


def test_an_anchor_is_kept_and_served_back_as_sent(officer, unit_keys) -> None:
    assert officer.get("/sync/v1/audit-anchors/latest").status_code == 404
    first = _anchor(unit_keys, 7, HEAD_A)
    assert officer.request("POST", "/sync/v1/audit-anchors", first).status_code == 201
    assert officer.request("POST", "/sync/v1/audit-anchors", first).status_code == 200
    # The same count and head later (a sync run again after a failure): kept as first sent.
    again = _anchor(unit_keys, 7, HEAD_A, "2026-12-05T10:30:00Z")
    assert officer.request("POST", "/sync/v1/audit-anchors", again).status_code == 200
    assert officer.get("/sync/v1/audit-anchors/latest").data == first
    later = _anchor(unit_keys, 9, HEAD_B, "2026-12-05T11:00:00Z")
    assert officer.request("POST", "/sync/v1/audit-anchors", later).status_code == 201
    assert officer.get("/sync/v1/audit-anchors/latest").data == later


def test_a_kept_anchor_cannot_be_rewritten_nor_rolled_back(officer, unit_keys) -> None:
    officer.request("POST", "/sync/v1/audit-anchors", _anchor(unit_keys, 7, HEAD_A))
    rewritten = _anchor(unit_keys, 7, HEAD_B)
    response = officer.request("POST", "/sync/v1/audit-anchors", rewritten)
    assert (response.status_code, response.get_json()) == (409, {"error": "anchor_conflict"})
    shorter = officer.request("POST", "/sync/v1/audit-anchors", _anchor(unit_keys, 6, HEAD_B))
    assert shorter.status_code == 409
    assert officer.get("/sync/v1/audit-anchors/latest").data == _anchor(unit_keys, 7, HEAD_A)


def test_an_anchor_not_signed_by_a_sync_key_is_refused(officer) -> None:
    forged = sign_checkpoint(Checkpoint(7, HEAD_A, "2026-12-05T10:00:00Z"), generate_signing_key())
    response = officer.request("POST", "/sync/v1/audit-anchors", forged)
    assert (response.status_code, response.get_json()) == (400, {"error": "bad_anchor"})
    assert officer.request("POST", "/sync/v1/audit-anchors", b"{}").status_code == 400
    assert officer.get("/sync/v1/audit-anchors/latest").status_code == 404
