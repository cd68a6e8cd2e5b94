"""Limits against abuse that track nobody, sized to protect the CPU, not to shut the door.

The public host does not know who is asking (no address, no agent: source_app/web.py),
so it cannot limit per client. What it can protect is its own capacity, and what costs
capacity is argon2id: 64 MiB and ~0.1 s of one core for each new report and each
receipt-code check. So:

- the argon2id runs are capped by a number of concurrent slots, with some reserved for
  new reports, so a flood of code checks can never take the CPU a report needs;
- token buckets bound the sustained rates: text reports, reports with files and code
  checks each have their own, so one kind of flood does not close the others;
- a bucket is spent only by a request that passed the cheap checks (session, CSRF token,
  a well-formed form, a well-formed code): malformed requests cost nothing but their
  parsing and can be sent forever without blocking anybody.

Everything is counted in :mod:`source_app.shared_state`: in the process's memory by
default (with W gunicorn workers the host-wide rates are up to W times the settings,
and so is the argon2id cap), in Redis when ``IBLAGH_REDIS_URL`` is set (one limit for
every worker of every replica).
"""

import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from source_app.config import SourceConfig
from source_app.shared_state import SharedState, hold, open_shared_state

SESSION_KEY = "attempts"
SESSION_WINDOW_SECONDS = 15 * 60
# A slot's lease outlasts an argon2id run and its report's commit (well under a second)
# many times over; it matters when a worker died holding the slot: the slot comes back
# when the lease ends (tests/test_replicas_behind_nginx.py kills a replica mid-flood).
ARGON2_LEASE_SECONDS = 10.0


@dataclass
class Limits:
    """The host's limits, counted in ``state`` (0 turns a rate or the cap off)."""

    state: SharedState
    text_submissions_per_minute: int
    file_submissions_per_minute: int
    code_attempts_per_minute: int
    code_attempts_per_session: int
    argon2_slots: int
    argon2_reserved_for_reports: int
    argon2_wait_seconds: float

    @classmethod
    def from_config(cls, config: SourceConfig, state: SharedState | None = None) -> "Limits":
        return cls(
            state=state or open_shared_state(config.redis_url),
            text_submissions_per_minute=config.submissions_per_minute,
            file_submissions_per_minute=config.file_submissions_per_minute,
            code_attempts_per_minute=config.code_attempts_per_minute,
            code_attempts_per_session=config.code_attempts_per_session,
            argon2_slots=config.argon2_concurrency,
            argon2_reserved_for_reports=min(
                config.argon2_reserved_for_reports, max(0, config.argon2_concurrency - 1)
            ),
            argon2_wait_seconds=config.argon2_wait_seconds,
        )

    def allow_submission(self, with_files: bool) -> bool:
        """One more report or follow-up that passed validation; files have their own bucket."""
        if with_files:
            return self._per_minute("submissions:files", self.file_submissions_per_minute)
        return self._per_minute("submissions:text", self.text_submissions_per_minute)

    def allow_code_attempt(self, session: MutableMapping[str, Any]) -> bool:
        """One more check of a well-formed code, for this browser session and overall."""
        if self.code_attempts_per_session:
            session_id = session.get(SESSION_KEY)
            if not isinstance(session_id, str):
                session_id = secrets.token_hex(16)
                session[SESSION_KEY] = session_id
            allowed = self.state.take(
                f"codes:session:{session_id}",
                self.code_attempts_per_session,
                self.code_attempts_per_session / SESSION_WINDOW_SECONDS,
            )
            if not allowed:
                return False
        return self._per_minute("codes", self.code_attempts_per_minute)

    @contextmanager
    def argon2_slot(self, for_report: bool) -> Iterator[bool]:
        """A slot to run argon2id in; yields False when the host stayed busy too long.

        Code checks may use all slots but the ones reserved for new reports.
        """
        if not self.argon2_slots:
            yield True
            return
        limit = self.argon2_slots
        if not for_report:
            limit -= self.argon2_reserved_for_reports
        with hold(
            self.state, "argon2", limit, ARGON2_LEASE_SECONDS, self.argon2_wait_seconds
        ) as held:
            yield held

    def _per_minute(self, name: str, count: int) -> bool:
        return not count or self.state.take(name, count, count / 60)
