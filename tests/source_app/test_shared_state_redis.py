"""The scale-out tier's shared state on a real Redis (issue 13, item 4).

Two app instances stand for two replicas: each has its own data dir and database, so
whatever they agree on, they agree on through Redis alone.
"""

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from crypto.sync_auth import sign_request
from source_app import create_app, create_sync_app
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.shared_state import RedisState, SharedStateUnavailable
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.redis_server import RedisServer, running_redis
from tests.support.servers import free_port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


def replica(data_dir: Path, unit_keys: UnitKeys, redis_url: str, **settings: str) -> Flask:
    if not data_dir.exists():
        unit_keys.install(data_dir)
    environ = {**source_environ(data_dir), "IBLAGH_REDIS_URL": redis_url, **settings}
    return create_app(SourceConfig.from_env(environ))


def sync_replica(data_dir: Path, unit_keys: UnitKeys, redis_url: str) -> Flask:
    if not data_dir.exists():
        unit_keys.install(data_dir)
    environ = {**source_environ(data_dir), "IBLAGH_REDIS_URL": redis_url}
    return create_sync_app(SourceConfig.from_env(environ))


def test_redis_buckets_claims_and_slots(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url)
    assert [state.take("b", 2, 0.001) for _ in range(3)] == [True, True, False]
    assert state.claim("n", 5) and not state.claim("n", 5)
    assert state.claim("short", 0.05)
    time.sleep(0.1)
    assert state.claim("short", 0.05), "a claim ends with its time to live"
    first = state.try_hold("s", 2, 30)
    assert first and state.try_hold("s", 2, 30) and state.try_hold("s", 2, 30) is None
    state.release("s", first)
    assert state.try_hold("s", 2, 30) is not None
    assert state.try_hold("lease", 1, 0.05) and state.try_hold("lease", 1, 0.05) is None
    time.sleep(0.1)
    assert state.try_hold("lease", 1, 0.05), "a dead holder's slot is freed by its lease"


def test_two_replicas_enforce_one_submission_limit(
    tmp_path: Path, unit_keys: UnitKeys, redis_server: RedisServer
) -> None:
    settings = {"IBLAGH_SUBMISSIONS_PER_MINUTE": "2"}
    first = replica(tmp_path / "a", unit_keys, redis_server.url, **settings)
    second = replica(tmp_path / "b", unit_keys, redis_server.url, **settings)
    ReporterActions(first.test_client()).report()
    ReporterActions(second.test_client()).report()
    for app in (first, second):
        reporter = ReporterActions(app.test_client())
        response = reporter.client.post("/report?lang=fr", data=reporter.report_form())
        assert response.status_code == 429


def test_two_replicas_share_the_argon2_cap_and_its_reserve_for_reports(
    tmp_path: Path, unit_keys: UnitKeys, redis_server: RedisServer
) -> None:
    settings = {
        "IBLAGH_ARGON2_CONCURRENCY": "2",
        "IBLAGH_ARGON2_RESERVED_FOR_REPORTS": "1",
        "IBLAGH_ARGON2_WAIT_SECONDS": "0",
    }
    first = replica(tmp_path / "a", unit_keys, redis_server.url, **settings)
    second = replica(tmp_path / "b", unit_keys, redis_server.url, **settings)
    code = ReporterActions(first.test_client()).report()
    host: PublicHost = first.extensions[EXTENSION_KEY]
    held = host.limits.state.try_hold("argon2", 1, 60)
    assert held is not None, "a code check in flight on the first replica"
    assert ReporterActions(second.test_client()).status(code)[0] == 503
    ReporterActions(second.test_client()).report()  # the reserved slot, on the other replica
    host.limits.state.release("argon2", held)
    # Checked now (the replicas have separate databases here, so: not found).
    assert ReporterActions(second.test_client()).status(code)[0] == 404
    assert ReporterActions(first.test_client()).status(code)[0] == 200


def test_a_sync_request_replayed_to_another_replica_is_refused(
    tmp_path: Path, unit_keys: UnitKeys, redis_server: RedisServer
) -> None:
    first = sync_replica(tmp_path / "a", unit_keys, redis_server.url)
    second = sync_replica(tmp_path / "b", unit_keys, redis_server.url)
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/submissions", b"")
    assert first.test_client().get("/sync/v1/submissions", headers=headers).status_code == 200
    replay = second.test_client().get("/sync/v1/submissions", headers=headers)
    assert replay.status_code == 401
    assert replay.get_json() == {"error": "replayed"}


def test_without_redis_writes_and_sync_fail_closed_and_pages_are_served(
    tmp_path: Path, unit_keys: UnitKeys, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = replica(tmp_path / "a", unit_keys, down)
    client = app.test_client()
    for page in ("/", "/report", "/status", "/followup"):
        assert client.get(page).status_code == 200
    reporter = ReporterActions(client)
    with caplog.at_level(logging.ERROR, logger="iblagh.shared_state"):
        refused = client.post("/report?lang=fr", data=reporter.report_form())
        status = client.post(
            "/status", data={"csrf_token": reporter.csrf_token("/status"), "code": "1" * 20}
        )
    assert refused.status_code == 503 and 'lang="fr"' in refused.get_data(as_text=True)
    assert status.status_code == 503
    assert "shared state unreachable (IBLAGH_REDIS_URL=redis://127.0.0.1:" in caplog.text
    assert not [p for p in (tmp_path / "a" / "blobs").rglob("*") if p.is_file()]
    sync = sync_replica(tmp_path / "a", unit_keys, down)
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/submissions", b"")
    response = sync.test_client().get("/sync/v1/submissions", headers=headers)
    assert response.status_code == 503 and response.get_json() == {"error": "unavailable"}


def test_redis_stopping_under_a_running_host_closes_writes_not_pages(
    tmp_path: Path, unit_keys: UnitKeys, redis_server: RedisServer
) -> None:
    app = replica(tmp_path / "a", unit_keys, redis_server.url)
    ReporterActions(app.test_client()).report()
    redis_server.stop()
    reporter = ReporterActions(app.test_client())
    assert reporter.client.get("/").status_code == 200
    response = reporter.client.post("/report", data=reporter.report_form())
    assert response.status_code == 503


def test_the_redis_password_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    state = RedisState(f"redis://:hunter2secret@127.0.0.1:{free_port()}/0", timeout_seconds=0.5)
    with caplog.at_level(logging.ERROR), pytest.raises(SharedStateUnavailable):
        state.take("x", 1, 1)
    assert "hunter2secret" not in caplog.text and "***@127.0.0.1" in caplog.text
