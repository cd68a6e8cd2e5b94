"""Abuse without tracking: per-process buckets answer with a translated 429."""

from pathlib import Path

import pytest
from flask import Flask

from source_app import create_app
from source_app.config import ConfigError, SourceConfig
from source_app.limits import SessionBuckets, TokenBucket
from tests.conftest import ReporterActions, source_environ


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    return create_app(SourceConfig.from_env({**source_environ(source_data_dir), **settings}))


def test_a_bucket_allows_its_burst_then_refills_with_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 1 / 20, clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 19
    assert not bucket.take()
    clock.now += 1
    assert bucket.take() and not bucket.take()
    clock.now += 10_000
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_session_buckets_are_separate_and_bounded() -> None:
    clock = FakeClock()
    buckets = SessionBuckets(2, 60, clock, max_sessions=3)
    assert buckets.take("a") and buckets.take("a") and not buckets.take("a")
    assert buckets.take("b")
    for other in ("c", "d", "e"):
        buckets.take(other)
    assert len(buckets._buckets) <= 3


def test_submissions_over_the_rate_get_a_translated_429_and_store_nothing(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_SUBMISSIONS_PER_MINUTE="2")
    reporter = ReporterActions(app.test_client())
    reporter.report()
    reporter.report()
    blobs = sorted((source_data_dir / "blobs").rglob("*"))
    data = reporter.report_form()
    response = reporter.client.post("/report?lang=fr", data=data)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert 'lang="fr"' in page and "Trop de demandes" in page
    assert sorted((source_data_dir / "blobs").rglob("*")) == blobs
    # Reading a status is not a submission.
    assert reporter.client.get("/status").status_code == 200


def test_code_attempts_are_limited_per_session(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_CODE_ATTEMPTS_PER_SESSION="3")
    reporter = ReporterActions(app.test_client())
    code = reporter.report()
    assert [reporter.status("1" * 20)[0] for _ in range(3)] == [404, 404, 404]
    assert reporter.status(code)[0] == 429, "even the right code, once the session is spent"
    other = ReporterActions(app.test_client())
    assert other.status(code)[0] == 200, "another session is not held back"


def test_code_attempts_are_limited_for_the_whole_process(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_CODE_ATTEMPTS_PER_MINUTE="2")
    statuses = [ReporterActions(app.test_client()).status("1" * 20)[0] for _ in range(3)]
    assert statuses == [404, 404, 429]


def test_follow_ups_count_as_code_attempts(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_CODE_ATTEMPTS_PER_SESSION="1")
    reporter = ReporterActions(app.test_client())
    code = reporter.report()
    assert reporter.follow_up(code)[0] == 200
    assert reporter.follow_up(code)[0] == 429


def test_a_zero_turns_a_limit_off(source_data_dir: Path) -> None:
    app = app_with(
        source_data_dir, IBLAGH_CODE_ATTEMPTS_PER_SESSION="0", IBLAGH_CODE_ATTEMPTS_PER_MINUTE="0"
    )
    reporter = ReporterActions(app.test_client())
    assert all(reporter.status("1" * 20)[0] == 404 for _ in range(5))


def test_requests_without_a_session_do_not_spend_the_buckets(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_CODE_ATTEMPTS_PER_MINUTE="1")
    client = app.test_client()
    for _ in range(5):
        assert client.post("/status", data={"code": "1" * 20}).status_code == 400
    assert ReporterActions(app.test_client()).status("1" * 20)[0] == 404


@pytest.mark.parametrize("value", ["lots", "-1", "1.5"])
def test_a_malformed_limit_stops_the_host_with_a_message(source_data_dir: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="IBLAGH_MAX_UPLOAD_BYTES"):
        SourceConfig.from_env({**source_environ(source_data_dir), "IBLAGH_MAX_UPLOAD_BYTES": value})
