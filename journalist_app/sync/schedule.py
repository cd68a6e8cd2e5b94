"""Sync on a schedule, beside the manual Sync button.

The sync needs an unlocked keyring: the sync key signs the requests and the intake keys
read what arrives (docs/invariants.md, 7). Keyrings live only in memory while officers
are logged in, so the schedule runs while one who holds the sync key is: each tick
borrows the most recently active such keyring, runs the same ``run_sync`` as the
button, and records it in the audit log as theirs, ``via: schedule``. With nobody
logged in, nothing is pulled: the public host keeps the reports until someone is.
"""

import logging
import threading

from journalist_app import audit
from journalist_app.errors import MissingKey, SyncError
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.roles import Permission, has_permission
from journalist_app.sync.pull import run_sync
from journalist_app.views.context import OfficerState

log = logging.getLogger(__name__)


def can_sync(keyring: UnlockedKeyring) -> bool:
    return keyring.sync_key is not None and has_permission(keyring, Permission.REPORTS_SYNC)


class AutoSync:
    """A daemon thread that syncs every ``interval_seconds`` (one worker, one thread)."""

    def __init__(self, state: OfficerState, interval_seconds: float) -> None:
        self._state = state
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="iblagh-autosync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # the thread must outlive one bad run
                log.exception("scheduled sync failed")

    def tick(self) -> str:
        """One scheduled sync: ``synced``, ``failed`` or ``nobody`` (no sync key in memory)."""
        keyring = self._state.keyrings.most_recent(can_sync)
        if keyring is None:
            return "nobody"
        with self._state.session_factory() as session:
            try:
                result = run_sync(session, self._state.config, keyring)
            except (MissingKey, SyncError) as exc:
                session.rollback()
                audit.record_sync(session, keyring, None, error=exc, via="schedule")
                session.commit()
                return "failed"
            audit.record_sync(session, keyring, result, via="schedule")
            session.commit()
            return "synced"
