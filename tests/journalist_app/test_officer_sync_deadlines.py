"""Sync deadlines (issue 9, item 5): a public host that trickles its answers, one byte at a
time and each byte before the socket's idle timeout, must not hold a sync forever.

The slow hosts here are real loopback servers: a raw socket one for the status line and
the body, and the stand-in public host (conftest ``Mailbox``) trickling one blob.
"""

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from journalist_app import create_app
from journalist_app.errors import SyncDeadlineExceeded
from journalist_app.keys.custody import unlock
from journalist_app.models import Report
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import run_sync

BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}
# Each trickled byte comes well within the idle timeout, so only a deadline can end the wait.
IDLE_TIMEOUT = 2.0
TRICKLE = 0.1


@contextmanager
def trickling_server(answer: bytes, head_fast: int = 0) -> Iterator[str]:
    """A loopback HTTP server that sends ``answer`` one byte every TRICKLE seconds (its first
    ``head_fast`` bytes at once), to every connection, until the test ends."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve_one(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(answer[:head_fast])
                for offset in range(head_fast, len(answer)):
                    if stop.is_set():
                        return
                    conn.sendall(answer[offset : offset + 1])
                    time.sleep(TRICKLE)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


def finishes_within(seconds: float, call: Callable[[], Any]) -> BaseException | None:
    """Run ``call`` in a thread; fail the test (rather than hang it) if it is still running."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting on the slow host after {seconds} s"
    return outcome[0]


LISTING = b'{"submissions": []}' + b" " * 200
SLOW_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(LISTING)}\r\n\r\n".encode()
    + LISTING
)


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def test_a_status_line_sent_one_byte_at_a_time_is_cut_off_at_the_request_deadline(
    keyring,
) -> None:
    with trickling_server(SLOW_ANSWER) as url:
        client = SyncClient(url, keyring.sync_key, timeout=IDLE_TIMEOUT, request_deadline=1.0)
        started = time.monotonic()
        error = finishes_within(10, client.listing)
    assert isinstance(error, SyncDeadlineExceeded)
    assert 1.0 <= time.monotonic() - started < 4
    assert "answered too slowly" in str(error) and "sync again to resume" in str(error)


def test_a_body_sent_one_byte_at_a_time_is_cut_off_at_the_request_deadline(keyring) -> None:
    head = len(SLOW_ANSWER) - len(LISTING)
    with trickling_server(SLOW_ANSWER, head_fast=head) as url:
        client = SyncClient(url, keyring.sync_key, timeout=IDLE_TIMEOUT, request_deadline=1.0)
        error = finishes_within(10, client.listing)
    assert isinstance(error, SyncDeadlineExceeded)


def test_the_run_deadline_ends_the_run_however_long_each_request_may_take(keyring) -> None:
    with trickling_server(SLOW_ANSWER) as url:
        client = SyncClient(
            url, keyring.sync_key, timeout=IDLE_TIMEOUT, request_deadline=60, run_deadline=1.0
        )
        error = finishes_within(10, client.listing)
        assert isinstance(error, SyncDeadlineExceeded)
        assert "IBLAGH_SYNC_RUN_DEADLINE_SECONDS" in str(error)
        # Once the run is over, no further request starts.
        started = time.monotonic()
        with pytest.raises(SyncDeadlineExceeded):
            client.listing()
        assert time.monotonic() - started < 0.5


def test_a_trickled_blob_stops_the_run_keeps_what_was_stored_and_the_next_run_resumes(
    mailbox, db, synced_config, keyring
) -> None:
    config = dataclasses.replace(
        synced_config, sync_timeout_seconds=IDLE_TIMEOUT, sync_request_deadline_seconds=1.0
    )
    first = mailbox.add_report(BODY)
    slow = mailbox.add_report(BODY)
    mailbox.trickled.add((slow.id, "body"))

    error = finishes_within(15, lambda: run_sync(db, config, keyring))

    assert isinstance(error, SyncDeadlineExceeded)
    db.rollback()
    assert db.get(Report, first.id) is not None
    assert db.get(Report, slow.id) is None
    assert list((config.data_dir / "blobs" / slow.id).glob("*")) == []
    assert set(mailbox.submissions) == {first.id, slow.id}, "nothing acknowledged unstored"

    mailbox.trickled.clear()
    result = run_sync(db, config, keyring)

    assert (result.new, result.already_stored, result.acknowledged) == (1, 1, 2)
    assert mailbox.submissions == {}
    assert db.scalar(select(func.count()).select_from(Report)) == 2


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "The public host answered too slowly"),
        ("fr", "Le serveur public a répondu trop lentement"),
        ("es", "El servidor público respondió demasiado despacio"),
        ("ar", "استجاب الخادم العام ببطء شديد"),
    ],
)
def test_the_web_sync_stops_at_the_deadline_and_says_so_in_the_officers_language(
    mailbox, synced_config, auth_for, lang, expected
) -> None:
    config = dataclasses.replace(
        synced_config, sync_timeout_seconds=IDLE_TIMEOUT, sync_request_deadline_seconds=1.0
    )
    slow = mailbox.add_report(BODY)
    mailbox.trickled.add((slow.id, "body"))
    client = create_app(config).test_client()
    auth = auth_for(client)
    client.get(f"/login?lang={lang}")
    auth.login()
    try:
        response = finishes_within(15, auth.sync)
        assert response is None
        html = client.get("/").get_data(as_text=True)
    finally:
        mailbox.trickled.clear()
    assert expected in html
