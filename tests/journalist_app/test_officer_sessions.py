"""Sessions: bound server-side to a keyring and an account; expiry and resets forget the keys."""

import os
import subprocess
import sys

from sqlalchemy import select

from journalist_app.accounts.officers import remove_officer
from journalist_app.keys.custody import unlock
from journalist_app.keys.keyring import KeyringStore, UnlockedKeyring
from journalist_app.models import Officer
from journalist_app.views.context import EXTENSION


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_active_session_still_ends_at_its_absolute_lifetime() -> None:
    clock = Clock()
    store = KeyringStore(idle_seconds=60, clock=clock, absolute_seconds=300)
    session_id = store.open(UnlockedKeyring(username="alice", officer_id=1))
    for _ in range(5):
        clock.now += 50
        assert store.get(session_id) is not None  # busy: never idle
    clock.now += 51
    assert store.get(session_id) is None and len(store) == 0


def test_forgetting_an_officer_forgets_all_their_sessions_only() -> None:
    store = KeyringStore(idle_seconds=60)
    mine = [store.open(UnlockedKeyring(username="alice", officer_id=1)) for _ in range(2)]
    theirs = store.open(UnlockedKeyring(username="bob", officer_id=2))
    assert store.forget_officer(1) == 2
    assert all(store.get(s) is None for s in mine) and store.get(theirs) is not None


def test_idle_expiry_forgets_the_keys_and_the_page_asks_for_a_login(app, client, auth) -> None:
    auth.login()
    store = app.extensions[EXTENSION].keyrings
    assert len(store) == 1
    store._idle_seconds = 0
    assert client.get("/").headers["Location"].endswith("/login")
    assert len(store) == 0


def test_absolute_expiry_forgets_the_keys(app, client, auth) -> None:
    auth.login()
    store = app.extensions[EXTENSION].keyrings
    store._absolute_seconds = 1e-9  # what IBLAGH_SESSION_MAX_MINUTES sets, minus the wait
    assert client.get("/").headers["Location"].endswith("/login")
    assert len(store) == 0


def test_the_defaults_are_30_minutes_idle_and_8_hours_in_all(app) -> None:
    store = app.extensions[EXTENSION].keyrings
    assert store._idle_seconds == 30 * 60 and store._absolute_seconds == 8 * 3600


def test_a_reset_made_by_another_process_ends_the_web_session(
    app, client, auth, db, config, unit, make_officer
) -> None:
    """The CLI runs in its own process: the web app learns of the reset from the database."""
    admin = make_officer("admin")
    auth.login()
    assert client.get("/").status_code == 200
    env = {
        **os.environ,
        "IBLAGH_DATA_DIR": str(config.data_dir),
        "IBLAGH_DATABASE_URL": config.database_url,
        "IBLAGH_KDF": "fast",
        "IBLAGH_OFFICER_PASSPHRASE": admin.passphrase,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "journalist_app.cli.main",
            "officer",
            "reset-2fa",
            "--officer",
            admin.username,
            "--name",
            unit.username,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "two-factor secret: " in result.stdout

    assert client.get("/").headers["Location"].endswith("/login")
    assert len(app.extensions[EXTENSION].keyrings) == 0, "the keys left memory"


def test_a_removed_officers_session_ends_at_the_next_click(
    app, client, auth, db, config, make_officer
) -> None:
    analyst = make_officer("analyst")
    admin = make_officer("admin")
    auth.login(analyst.username, analyst.passphrase)
    assert client.get("/").status_code == 200
    remove_officer(
        db, unlock(db, admin.username, admin.passphrase, config.wrap_params), analyst.username
    )
    assert client.get("/").headers["Location"].endswith("/login")
    assert db.scalar(select(Officer).where(Officer.username == analyst.username)) is None
