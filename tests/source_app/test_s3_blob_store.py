"""The public host's blob store on an S3-compatible bucket (moto's server, real HTTP)."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from source_app import create_app, create_sync_app
from source_app.config import ConfigError, SourceConfig
from source_app.storage_s3 import S3BlobStore, S3Location, open_blob_store
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.s3 import CREDENTIALS, S3Endpoint
from tests.support.sync import SignedSyncClient

PART = 5 * 1024 * 1024


@pytest.fixture
def store(s3_endpoint: S3Endpoint) -> S3BlobStore:
    bucket = s3_endpoint.new_bucket()
    return S3BlobStore(s3_endpoint.client(), S3Location(bucket, "public/"), part_size=PART)


def objects(store: S3BlobStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.location.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", ()))


def stored_keys(store: S3BlobStore) -> list[str]:
    return [key for key, _modified in store.keys()]  # noqa: SIM118  # a store, not a dict


def test_the_url_names_a_bucket_and_a_prefix() -> None:
    assert S3Location.parse("s3://reports/public/a") == S3Location("reports", "public/a/")
    assert S3Location.parse("s3://reports") == S3Location("reports", "")
    for bad in ("http://reports/x", "s3:///x", "s3://b/x?y=1"):
        with pytest.raises(ValueError):
            S3Location.parse(bad)


def test_a_large_blob_goes_up_in_parts_and_appears_only_when_committed(
    store: S3BlobStore,
) -> None:
    content = os.urandom(2 * PART + 12345)
    upload = store.new_blob()
    for start in range(0, len(content), 256 * 1024):
        upload.write(content[start : start + 256 * 1024])
    # Two parts are up, yet no object exists: a crash now leaves nothing visible.
    assert objects(store) == []
    assert len(store.incoming()) == 1
    ref = upload.commit()
    assert objects(store) == [f"public/{ref.key}"]
    assert store.incoming() == []
    assert ref.size == len(content)
    assert ref.sha256 == hashlib.sha256(content).hexdigest()
    with store.open(ref.key) as blob:
        assert blob.read() == content
    head = store.client.head_object(Bucket=store.location.bucket, Key=f"public/{ref.key}")
    assert "ServerSideEncryption" not in head  # off by default: blobs are envelopes


def test_a_failed_write_leaves_no_object_and_no_unfinished_upload(store: S3BlobStore) -> None:
    with pytest.raises(RuntimeError, match="form invalid"), store.new_blob() as upload:
        upload.write(os.urandom(PART + 1))
        assert len(store.incoming()) == 1
        raise RuntimeError("form invalid")
    assert objects(store) == [] and store.incoming() == []


def test_a_dead_workers_upload_is_aborted_by_the_sweep(store: S3BlobStore) -> None:
    abandoned = store.new_blob()
    abandoned.write(os.urandom(PART))  # the worker dies here: no commit, no discard
    kept = store.put(b"small envelope")
    [started] = [u["Initiated"] for _, u in store._unfinished()]
    # moto dates every upload 2010-11-10: ages are measured from the store's own date.
    age = time.time() - started.timestamp()
    assert store.sweep_incoming(older_than=age + 3600) == 0
    assert len(store.incoming()) == 1
    assert store.sweep_incoming(older_than=age - 3600) == 1
    assert store.incoming() == []
    assert stored_keys(store) == [kept.key]


def test_small_blobs_round_trip_and_delete(store: S3BlobStore) -> None:
    refs = [store.put(f"envelope {n}".encode()) for n in range(3)]
    assert sorted(stored_keys(store)) == sorted(ref.key for ref in refs)
    store.delete(refs[0].key)
    with pytest.raises(FileNotFoundError):
        store.open(refs[0].key)
    with store.open(refs[1].key) as blob:
        assert blob.read() == b"envelope 1"
    with pytest.raises(KeyError):
        store.open("../../etc/passwd")


_WRITER = """
import os, re, sys
from source_app.storage_s3 import S3BlobStore, S3Location, s3_client
store = S3BlobStore(s3_client(sys.argv[1], "us-east-1"), S3Location(sys.argv[2], ""),
                    part_size=5 * 1024 * 1024)
chunk = os.urandom(256 * 1024)
with store.new_blob() as upload:
    for _ in range(int(sys.argv[3]) * 4):
        upload.write(chunk)
assert upload.ref.size == int(sys.argv[3]) * 1024 * 1024
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent, moto's host.
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024)
"""


def _peak_rss_writing(s3_endpoint: S3Endpoint, bucket: str, mebibytes: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, s3_endpoint.url, bucket, str(mebibytes)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **CREDENTIALS},
        timeout=120,
    )
    return int(done.stdout.strip())


def test_writing_in_chunks_holds_about_one_part_in_memory(s3_endpoint: S3Endpoint) -> None:
    """A writer's peak memory does not grow with the blob: 10 MiB and 80 MiB peak alike."""
    bucket = s3_endpoint.new_bucket()
    small = _peak_rss_writing(s3_endpoint, bucket, 10)
    large = _peak_rss_writing(s3_endpoint, bucket, 80)
    assert large - small < 2 * PART, f"peak RSS {small} B for 10 MiB, {large} B for 80 MiB"


def test_sse_is_asked_for_only_when_configured(s3_endpoint: S3Endpoint) -> None:
    bucket = s3_endpoint.new_bucket()
    store = S3BlobStore(
        s3_endpoint.client(), S3Location(bucket, ""), server_side_encryption="AES256"
    )
    ref = store.put(b"envelope")
    head = store.client.head_object(Bucket=bucket, Key=ref.key)
    assert head["ServerSideEncryption"] == "AES256"


def test_a_bad_blob_url_stops_the_host_naming_the_variable(source_data_dir: Path) -> None:
    environ = {**source_environ(source_data_dir), "IBLAGH_BLOB_URL": "ftp://bucket"}
    with pytest.raises(ConfigError, match="IBLAGH_BLOB_URL"):
        SourceConfig.from_env(environ)


def test_reports_land_in_the_bucket_and_go_once_acknowledged(
    s3_endpoint: S3Endpoint, source_data_dir: Path, unit_keys: UnitKeys
) -> None:
    bucket = s3_endpoint.new_bucket()
    environ = {
        **source_environ(source_data_dir),
        "IBLAGH_BLOB_URL": f"s3://{bucket}/replica-set",
        "IBLAGH_BLOB_S3_ENDPOINT": s3_endpoint.url,
        "IBLAGH_BLOB_S3_REGION": "us-east-1",
    }
    config = SourceConfig.from_env(environ)
    public = ReporterActions(create_app(config).test_client())
    officer = SignedSyncClient(create_sync_app(config).test_client(), unit_keys.sync)
    attachment = os.urandom(300 * 1024)
    public.report(files=[(attachment, "capture.png")])
    public.report()
    bucket_store = open_blob_store(config)
    assert isinstance(bucket_store, S3BlobStore)
    stored = objects(bucket_store)
    assert len(stored) == 3 and all(key.startswith("replica-set/") for key in stored)
    assert not config.blob_dir.exists() or not any(config.blob_dir.rglob("*/*"))
    items = officer.pending()
    first = next(item for item in items if len(item["blobs"]) == 2)
    for blob in first["blobs"]:
        fetched = officer.get(f"/sync/v1/submissions/{first['id']}/blobs/{blob['name']}")
        assert hashlib.sha256(fetched.data).hexdigest() == blob["sha256"]
    assert officer.ack([first["id"]]) == {"deleted": [first["id"]], "unknown": []}
    assert len(objects(open_blob_store(config))) == 1  # type: ignore[arg-type]
