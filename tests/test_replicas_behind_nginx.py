"""Two public replicas behind nginx on one database and one Redis (issue 13, item 5).

The database is PostgreSQL where the suite has one (IBLAGH_TEST_POSTGRES_URL), else SQLite.

Reporters submit through nginx, spread over both replicas, while the officer host syncs
with its real CLI; one replica is SIGKILLed mid-way. Every report whose reporter was
shown a receipt code reaches the officer host exactly once, no report is stored twice,
and nothing is left on the public host.
"""

import http.client
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, text

from crypto.envelope import open_bytes
from journalist_app.accounts.login import unlock_for_command
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from tests.conftest import POSTGRES_ENV
from tests.support.deployment import OFFICER, PASSPHRASE, init_unit, officer_cli
from tests.support.public_tier import public_tier
from tests.support.redis_server import running_redis

REPORTS = 30
REPORTERS = 3
KILL_AFTER = 10
CODE = re.compile(rb"<bdi>([0-9 ]{24})</bdi>")


def open_report_form(port: int) -> tuple[str, dict[str, str]]:
    """The form page through nginx: the session cookie and the form's hidden fields."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    hidden = dict(re.findall(r'name="(csrf_token|form_token)" type="hidden" value="([^"]+)"', page))
    assert cookie and set(hidden) == {"csrf_token", "form_token"}, page[:300]
    return cookie, hidden


def submit(port: int, marker: str) -> str:
    """One report through nginx, sent again (the same form) after an error, as a person
    would: "code" if a receipt code was shown, "already" if told it was already sent."""
    try:
        cookie, hidden = open_report_form(port)
    except (OSError, AssertionError, http.client.HTTPException):
        return "no form"
    body = urlencode(
        {
            **hidden,
            "category": "terrorism",
            "urls": "https://t.me/example/1",
            "description": marker,
            "identity": "anonymous",
            "good_faith": "y",
        }
    )
    for _attempt in range(20):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(
                "POST",
                "/report?lang=en",
                body=body,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            response = connection.getresponse()
            page = response.read()
            connection.close()
        except (OSError, http.client.HTTPException):
            time.sleep(1)
            continue
        if response.status == 200 and CODE.search(page):
            return "code"
        if response.status == 409:
            return "already"
        time.sleep(1)  # 502 (the replica died under it) or 503 (busy): try again
    return "gave up"


def sync_once(officer_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return officer_cli(officer_env, "sync", "--officer", OFFICER)


def stored_bodies(officer_dir: Path, officer_env: dict[str, str]) -> list[bytes]:
    """Every report body the officer host stored, opened with the officer's keys."""
    db = sqlite3.connect(officer_dir / "officer.sqlite3")
    with db:
        paths = db.execute("SELECT path FROM report_blobs WHERE name = 'body'").fetchall()
    db.close()
    config = OfficerConfig.from_env({**os.environ, **officer_env})
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            keyring = unlock_for_command(
                session, OFFICER, PASSPHRASE, params=config.wrap_params, command="test"
            )
            session.commit()
            identities = keyring.intake_identities()
    finally:
        engine.dispose()
    return [open_bytes((officer_dir / path).read_bytes(), identities)[1] for (path,) in paths]


@pytest.fixture
def shared_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL (the scale-out tier's) where the suite has one, else a SQLite file."""
    if os.environ.get(POSTGRES_ENV):
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'public.sqlite3'}"


def pending_on_public_host(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM submissions")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with running_redis(tmp_path / "redis") as server:
        yield server.url


def test_every_acknowledged_report_reaches_the_officer_once_when_a_replica_dies(
    tmp_path: Path, redis_url: str, shared_database_url: str
) -> None:
    unit = init_unit(tmp_path)
    environ = {
        **unit.source_env,
        "IBLAGH_REDIS_URL": redis_url,
        "IBLAGH_DATABASE_URL": shared_database_url,
    }
    with public_tier(tmp_path, environ, replicas=2) as tier:
        first, front = tier.replicas[0], tier.front
        assert tier.sync is not None
        unit.officer_env["IBLAGH_SYNC_URL"] = tier.sync.url
        acknowledged: list[str] = []
        attempted: list[str] = []
        outcomes: list[str] = []
        lock = threading.Lock()
        done = threading.Event()

        def reporter(number: int) -> None:
            for index in range(number, REPORTS, REPORTERS):
                marker = f"replica report {index:03d}"
                with lock:
                    attempted.append(marker)
                outcome = submit(front.port, marker)
                with lock:
                    outcomes.append(outcome)
                    if outcome == "code":
                        acknowledged.append(marker)

        def officer() -> None:
            while not done.is_set():
                sync_once(unit.officer_env)

        syncing = threading.Thread(target=officer)
        syncing.start()
        reporters = [threading.Thread(target=reporter, args=(n,)) for n in range(REPORTERS)]
        for thread in reporters:
            thread.start()
        deadline = time.monotonic() + 120
        while len(attempted) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()  # mid-way: requests in flight on it die with it
        for thread in reporters:
            thread.join(timeout=300)
        done.set()
        syncing.join(timeout=300)
        # Drain: the officer syncs until the public host lists nothing.
        final = sync_once(unit.officer_env)
        assert final.returncode == 0, final.stdout + final.stderr
        again = sync_once(unit.officer_env)
        assert "synced: 0 new, 0 already stored" in again.stdout, again.stdout

    assert len(acknowledged) >= REPORTS - REPORTERS, outcomes  # at most those in flight lost
    served = [(tmp_path / f"{name}.log").read_text().count("POST /report 200") for name in "ab"]
    assert all(served), f"reports were not spread over both replicas: {served}"
    print(f"outcomes {sorted(outcomes)}; reports committed by replica a, b: {served}")
    bodies = stored_bodies(unit.officer_dir, unit.officer_env)
    found = [marker for body in bodies for marker in attempted if marker.encode() in body]
    assert len(found) == len(bodies), "every stored report is one of ours"
    for marker in acknowledged:
        assert found.count(marker) == 1, marker
    assert len(set(found)) == len(found), "no report stored twice"
    assert pending_on_public_host(shared_database_url) == 0
    # The killed replica may leave ciphertext of a report it never committed: `recover`
    # (run at every start) removes it; nothing else is left.
    recovered = subprocess.run(
        [sys.executable, "-m", "source_app.cli", "recover", "--grace", "0"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    left = [p for p in (unit.source_dir / "blobs").rglob("*") if p.is_file()]
    assert left == [], left
