"""Abuse without tracking: buckets in the shared state answer with a translated 429."""

from pathlib import Path

import pytest
from flask import Flask

from source_app import create_app
from source_app.config import ConfigError, SourceConfig
from source_app.shared_state import LocalState
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
    state = LocalState(clock)
    assert [state.take("b", 3, 1 / 20) for _ in range(4)] == [True, True, True, False]
    clock.now += 19
    assert not state.take("b", 3, 1 / 20)
    clock.now += 1
    assert state.take("b", 3, 1 / 20) and not state.take("b", 3, 1 / 20)
    clock.now += 10_000
    assert [state.take("b", 3, 1 / 20) for _ in range(4)] == [True, True, True, False]


def test_buckets_are_separate_and_their_number_bounded() -> None:
    state = LocalState(FakeClock(), max_entries=3)
    assert state.take("a", 2, 0.01) and state.take("a", 2, 0.01) and not state.take("a", 2, 0.01)
    assert state.take("b", 2, 0.01)
    for other in ("c", "d", "e"):
        state.take(other, 2, 0.01)
    assert len(state._buckets) <= 3


def test_a_claim_is_granted_once_until_it_expires() -> None:
    clock = FakeClock()
    state = LocalState(clock)
    assert state.claim("n", 10) and not state.claim("n", 10)
    clock.now += 11
    assert state.claim("n", 10)


def test_slots_are_capped_and_a_dead_holders_lease_runs_out() -> None:
    clock = FakeClock()
    state = LocalState(clock)
    first = state.try_hold("s", 2, 30)
    assert first and state.try_hold("s", 2, 30) and state.try_hold("s", 2, 30) is None
    state.release("s", first)
    assert state.try_hold("s", 2, 30) and state.try_hold("s", 2, 30) is None
    clock.now += 31
    assert state.try_hold("s", 2, 30)


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
    # The form again, its answers kept, the reason and the rate stated (issue 10, item 11).
    assert 'lang="fr"' in page and "ce site en reçoit 2 par minute" in page
    assert "A channel posts propaganda every day." in page
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
