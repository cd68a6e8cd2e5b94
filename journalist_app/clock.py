"""The officer host's one clock: naive UTC, as the database stores it.

Everything that needs the time calls :func:`utc_now`. Tests move time by replacing
:data:`source` (``monkeypatch.setattr(clock, "source", ...)``), which every caller
sees, however it imported ``utc_now``.
"""

from collections.abc import Callable
from datetime import UTC, datetime


def system_now() -> datetime:
    """The machine's clock, in naive UTC (SQLite keeps no time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


# What utc_now reads; replaced only by tests that travel in time.
source: Callable[[], datetime] = system_now


def utc_now() -> datetime:
    """Now, in naive UTC: every stored time is UTC by convention."""
    return source()
