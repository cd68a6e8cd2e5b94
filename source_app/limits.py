"""Limits against abuse that track nobody: token buckets counted per worker process.

The public host does not know who is asking (no address, no agent: source_app/web.py),
so it cannot limit per client. It limits what it can count without tracking: new
submissions and receipt-code attempts over the whole process, and code attempts per
browser session (a random id in the signed session cookie, never the code). Buckets
live in the process's memory: with gunicorn's W workers the host-wide rate is up to W
times the configured one, which is what the embedded tier needs; a shared counter
(the database or a cache) belongs to the scale-out tier.
"""

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from source_app.config import SourceConfig

SESSION_KEY = "attempts"
# Sessions remembered at once; the oldest are forgotten first (and start afresh).
MAX_SESSIONS = 10_000
SESSION_WINDOW_SECONDS = 15 * 60


class TokenBucket:
    """``capacity`` tokens refilled at ``rate`` per second; thread-safe."""

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Use one token if there is one."""
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False

    def full(self) -> bool:
        with self._lock:
            self._refill()
            return self._tokens >= self.capacity

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


class SessionBuckets:
    """One bucket per random session id, the least recently used forgotten first."""

    def __init__(
        self,
        capacity: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / window_seconds
        self._clock = clock
        self._max_sessions = max_sessions
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, session_id: str) -> bool:
        with self._lock:
            bucket = self._buckets.pop(session_id, None)
            if bucket is None:
                bucket = TokenBucket(self.capacity, self.rate, self._clock)
            self._buckets[session_id] = bucket
            while len(self._buckets) > self._max_sessions:
                self._buckets.popitem(last=False)
            # Full buckets carry no information: drop them to keep memory small.
            for key in [k for k, b in list(self._buckets.items())[:8] if b.full()]:
                if key != session_id:
                    del self._buckets[key]
        return bucket.take()


@dataclass
class Limits:
    """The process's buckets, built from the configuration (0 turns a limit off)."""

    submissions: TokenBucket | None
    code_attempts: TokenBucket | None
    session_code_attempts: SessionBuckets | None

    @classmethod
    def from_config(cls, config: SourceConfig) -> "Limits":
        def per_minute(count: int) -> TokenBucket | None:
            return TokenBucket(count, count / 60) if count else None

        per_session = config.code_attempts_per_session
        return cls(
            submissions=per_minute(config.submissions_per_minute),
            code_attempts=per_minute(config.code_attempts_per_minute),
            session_code_attempts=(
                SessionBuckets(per_session, SESSION_WINDOW_SECONDS) if per_session else None
            ),
        )

    def allow_submission(self) -> bool:
        return self.submissions is None or self.submissions.take()

    def allow_code_attempt(self, session: MutableMapping[str, Any]) -> bool:
        """One more receipt-code check, for the whole process and for this session."""
        if self.session_code_attempts is not None:
            session_id = session.get(SESSION_KEY)
            if not isinstance(session_id, str):
                session_id = secrets.token_hex(16)
                session[SESSION_KEY] = session_id
            if not self.session_code_attempts.take(session_id):
                return False
        return self.code_attempts is None or self.code_attempts.take()
