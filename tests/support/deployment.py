"""The unit as `make run` starts it, for tests/test_end_to_end.py and tests/test_sync_killed.py.

Real processes: the `iblagh-officer` CLI for keys and sync, gunicorn for the public site
and its sync listener.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import Server, gunicorn

OFFICER = "nadia"
PASSPHRASE = "a long passphrase for the test officer"
SOURCE_CONF = "python:source_app.gunicorn_conf"


@dataclass
class Unit:
    """Data dirs and environments of both sides, after `keys init`."""

    source_dir: Path
    officer_dir: Path
    source_env: dict[str, str]
    officer_env: dict[str, str]
    init: subprocess.CompletedProcess[str]


def officer_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journalist_app.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def init_unit(tmp_path: Path, officer_extra: dict[str, str] | None = None) -> Unit:
    """`keys init` for OFFICER, the public files written into the public host's data dir;
    ``officer_extra`` is added to the officer side's environment."""
    source_dir, officer_dir = tmp_path / "source", tmp_path / "officer"
    source_env = {"IBLAGH_DATA_DIR": str(source_dir)}
    officer_env = {
        **(officer_extra or {}),
        "IBLAGH_DATA_DIR": str(officer_dir),
        "IBLAGH_KDF": "fast",
        "IBLAGH_OFFICER_PASSPHRASE": PASSPHRASE,
    }
    init = officer_cli(
        officer_env, "keys", "init", "--officer", OFFICER, "--public-out", str(source_dir)
    )
    assert init.returncode == 0, init.stderr
    return Unit(source_dir, officer_dir, source_env, officer_env, init)


@contextmanager
def public_host(unit: Unit, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """The public site and its sync listener; the officer side's IBLAGH_SYNC_URL is set."""
    with (
        gunicorn(
            "source_app:create_app()", unit.source_env, tmp_path / "public.log", config=SOURCE_CONF
        ) as public,
        gunicorn(
            "source_app:create_sync_app()",
            unit.source_env,
            tmp_path / "sync.log",
            config=SOURCE_CONF,
            probe_path="/sync/v1/submissions",
        ) as sync,
    ):
        unit.officer_env["IBLAGH_SYNC_URL"] = sync.url
        yield public, sync
