"""The officer host's blobs in an S3-compatible bucket (moto's server over loopback HTTP)."""

import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from journalist_app.config import ConfigError, OfficerConfig
from journalist_app.keys.custody import unlock
from journalist_app.models import Report, ReportBlob
from journalist_app.reports.reading import read_report
from journalist_app.sync.blob_store_s3 import S3BlobStore, S3Location, open_blob_store
from journalist_app.sync.pull import run_sync
from tests.support.s3 import S3Endpoint

PART = 5 * 1024 * 1024
BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}
SUBMISSION = "a" * 32


@pytest.fixture
def store(s3_endpoint: S3Endpoint) -> S3BlobStore:
    return S3BlobStore(
        s3_endpoint.client(), S3Location(s3_endpoint.new_bucket(), "officer/"), part_size=PART
    )


def objects(store: S3BlobStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.location.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", ()))


def unfinished(store: S3BlobStore) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.location.bucket)
    return [upload["Key"] for upload in listed.get("Uploads", ())]


def test_a_blob_appears_under_the_same_relative_path_only_once_whole(store: S3BlobStore) -> None:
    relative = store.relative_path(SUBMISSION, "attachment-1")
    content = os.urandom(2 * PART + 1000)
    with store.writer(relative) as handle:
        for start in range(0, len(content), 1 << 20):
            handle.write(content[start : start + (1 << 20)])
            if start > PART:
                assert objects(store) == [], "visible before it was whole"
    assert objects(store) == [f"officer/blobs/{SUBMISSION}/attachment-1"]
    with store.open(relative) as blob:
        assert hashlib.sha256(blob.read()).digest() == hashlib.sha256(content).digest()
    store.delete(relative)
    with pytest.raises(FileNotFoundError):
        store.open(relative)


def test_a_failed_write_leaves_nothing_and_a_killed_ones_upload_is_discarded(
    store: S3BlobStore,
) -> None:
    relative = store.relative_path(SUBMISSION, "body")
    with pytest.raises(OSError, match="connection lost"), store.writer(relative) as handle:
        handle.write(os.urandom(PART + 1))
        raise OSError("connection lost")
    assert objects(store) == [] and unfinished(store) == []
    # A killed sync leaves its upload unfinished; the next run for that submission aborts
    # it (moto dates every upload 2010, past the grace kept for a live writer).
    key = f"officer/{relative}"
    started = store.client.create_multipart_upload(Bucket=store.location.bucket, Key=key)
    store.client.upload_part(
        Bucket=store.location.bucket,
        Key=key,
        UploadId=started["UploadId"],
        PartNumber=1,
        Body=os.urandom(PART),
    )
    assert len(unfinished(store)) == 1
    assert store.discard_incomplete("b" * 32) == 0
    assert store.discard_incomplete(SUBMISSION) == 1
    assert unfinished(store) == [] and objects(store) == []


@pytest.mark.parametrize("relative", ["blobs/../keys", f"blobs/{SUBMISSION}/../x", "x/y/z"])
def test_paths_outside_the_store_are_refused(store: S3BlobStore, relative: str) -> None:
    with pytest.raises(ValueError):
        store.open(relative)


def test_a_bad_blob_url_stops_the_host_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IBLAGH_BLOB_URL"):
        OfficerConfig.from_env(
            {"IBLAGH_DATA_DIR": str(tmp_path), "IBLAGH_BLOB_URL": "file:///var/blobs"}
        )


def test_a_sync_stores_into_the_bucket_before_acknowledging_and_reports_open_from_it(
    mailbox, db, synced_config, unit, sealed_report, s3_endpoint: S3Endpoint
) -> None:
    bucket = s3_endpoint.new_bucket()
    environ = {
        "IBLAGH_DATA_DIR": str(synced_config.data_dir),
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_SYNC_URL": synced_config.sync_url,
        "IBLAGH_SYNC_CHECK_ENVELOPES": "0",
        "IBLAGH_BLOB_URL": f"s3://{bucket}/unit",
        "IBLAGH_BLOB_S3_ENDPOINT": s3_endpoint.url,
        "IBLAGH_BLOB_S3_REGION": "us-east-1",
    }
    config = OfficerConfig.from_env(environ)
    store = open_blob_store(config)
    assert isinstance(store, S3BlobStore)
    submission = mailbox.add({"body": sealed_report(BODY)})
    keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    result = run_sync(db, config, keyring)
    assert (result.new, result.acknowledged) == (1, 1)
    assert mailbox.submissions == {}
    [blob] = db.scalars(select(ReportBlob)).all()
    assert objects(store) == [f"unit/{blob.path}"]
    assert not (config.data_dir / "blobs").exists() or not any(
        (config.data_dir / "blobs").iterdir()
    )
    assert db.get(Report, submission.id) is not None
    reading = read_report(db, store, keyring, submission.id)
    assert reading.body.description == "x"
