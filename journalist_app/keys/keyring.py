"""Unlocked unit secrets, held in process memory only while an officer is logged in.

Invariant 7: nothing decrypts without an unlocked session. A keyring lives in a
:class:`KeyringStore` under a random session id; the browser holds that id, never a
key, and the store forgets the keyring at logout, after the idle timeout, after the
absolute lifetime of a session, and when the officer's credentials change.
"""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nacl.public import PrivateKey
from nacl.signing import SigningKey


@dataclass(frozen=True)
class UnlockedKeyring:
    """What one officer's grants opened: intake, identity and recovery keys by key id,
    signing and sync keys.

    Intake keys open report bodies, attachments and follow-ups; identity keys open
    identity sections only; a recovery key (held only after ``keys recover``) opens
    both. It also says whose they are (``officer_id``, ``role``: roles.py checks the
    role) and under which ``session_epoch`` of the account they were opened.
    """

    username: str
    intake_keys: dict[str, PrivateKey] = field(default_factory=dict)
    signing_key: SigningKey | None = None
    sync_key: SigningKey | None = None
    officer_id: int | None = None
    # No role, no permission: a keyring made without one can do nothing.
    role: str = ""
    session_epoch: int = 0
    identity_keys: dict[str, PrivateKey] = field(default_factory=dict)
    recovery_keys: dict[str, PrivateKey] = field(default_factory=dict)

    def intake_identities(self) -> list[PrivateKey]:
        """The keys that open report bodies, attachments and follow-ups."""
        return [*self.intake_keys.values(), *self.recovery_keys.values()]

    def identity_section_keys(self) -> list[PrivateKey]:
        """The keys that open identity sections: identity keys and a recovery key, never
        an intake key (docs/invariants.md, 5)."""
        return [*self.identity_keys.values(), *self.recovery_keys.values()]

    def __repr__(self) -> str:
        return f"UnlockedKeyring(username={self.username!r}, <keys hidden>)"

    __str__ = __repr__


@dataclass
class _Entry:
    keyring: UnlockedKeyring
    last_used: float
    opened: float


class KeyringStore:
    """Server-side map of session id to keyring, with idle and absolute expiry; thread-safe.

    It lives in one process: the officer app must run as a single worker.
    """

    def __init__(
        self,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        absolute_seconds: float | None = None,
    ) -> None:
        self._idle_seconds = idle_seconds
        self._absolute_seconds = absolute_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def open(self, keyring: UnlockedKeyring) -> str:
        """Keep ``keyring`` and return the new session id that names it."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_idle()
            now = self._clock()
            self._entries[session_id] = _Entry(keyring, now, now)
        return session_id

    def get(self, session_id: str) -> UnlockedKeyring | None:
        """The keyring for ``session_id`` if it is still fresh; using it keeps it fresh."""
        with self._lock:
            self._forget_idle()
            entry = self._entries.get(session_id)
            if entry is None:
                return None
            entry.last_used = self._clock()
            return entry.keyring

    def most_recent(self, wanted: Callable[[UnlockedKeyring], bool]) -> UnlockedKeyring | None:
        """The most recently used fresh keyring that ``wanted`` accepts (for the scheduled
        sync, journalist_app/sync/schedule.py); looking does not keep it fresh."""
        with self._lock:
            self._forget_idle()
            entries = sorted(self._entries.values(), key=lambda e: e.last_used, reverse=True)
            return next((e.keyring for e in entries if wanted(e.keyring)), None)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)

    def forget_officer(self, officer_id: int) -> int:
        """Forget every session of one officer (reset, removal); returns how many."""
        with self._lock:
            doomed = [s for s, e in self._entries.items() if e.keyring.officer_id == officer_id]
            for session_id in doomed:
                del self._entries[session_id]
            return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            self._forget_idle()
            return len(self._entries)

    def _forget_idle(self) -> None:
        now = self._clock()
        idle_cutoff = now - self._idle_seconds
        opened_cutoff = now - self._absolute_seconds if self._absolute_seconds else None
        for session_id, entry in list(self._entries.items()):
            if entry.last_used < idle_cutoff or (
                opened_cutoff is not None and entry.opened < opened_cutoff
            ):
                del self._entries[session_id]
