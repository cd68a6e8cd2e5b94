"""gunicorn settings for the public host: logs that hold no address and no query string.

Use: ``gunicorn -c python:source_app.gunicorn_conf 'source_app:create_app()'``
(and ``'source_app:create_sync_app()'`` on the sync listener).
"""

import re
from typing import Any

from gunicorn import glogging

# Method, path without query string, status, bytes, duration: nothing about the client.
accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(B)s %(M)sms"
errorlog = "-"
loglevel = "info"
proc_name = "iblagh-source"

_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IPV6 = re.compile(
    r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"  # full form
    r"|[0-9A-Fa-f:]*::[0-9A-Fa-f:]*"  # compressed form
)


def redact(text: str) -> str:
    """Replace anything that looks like an IPv4 or IPv6 address (IPv4 first: ::ffff:a.b.c.d)."""
    return _IPV6.sub("[address]", _IPV4.sub("[address]", text))


class RedactingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, minus addresses: it reports bad requests with the peer's IP."""

    def _redacted(self, level: str, msg: Any, *args: Any, **kwargs: Any) -> None:
        text = str(msg) % args if args else str(msg)
        getattr(super(), level)(redact(text), **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._redacted("critical", msg, *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._redacted("error", msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._redacted("warning", msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._redacted("info", msg, *args, **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._redacted("debug", msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        # No traceback text: an exception message can quote what a client sent.
        kwargs.pop("exc_info", None)
        self._redacted("error", msg, *args, **kwargs)


logger_class = RedactingLogger
