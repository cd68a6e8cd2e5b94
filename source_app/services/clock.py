"""Coarse time: the public host records hours, never the minute someone wrote."""

from datetime import UTC, datetime


def current_hour() -> datetime:
    """Now, truncated to the hour, as a naive UTC datetime (portable across databases)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
