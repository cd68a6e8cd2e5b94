"""gunicorn settings for the public host: logs that hold no address and no query string.

Use: ``gunicorn -c python:source_app.gunicorn_conf 'source_app:create_app()'``
(and ``'source_app:create_sync_app()'`` on the sync listener).
"""

import ctypes
import re
import resource
from typing import Any

from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.http import wsgi as gunicorn_wsgi

# Method, path without query string, status, bytes, duration: nothing about the client.
accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(B)s %(M)sms"
errorlog = "-"
loglevel = "info"
proc_name = "iblagh-source"
# Threaded workers (gthread): an upload that takes minutes over Tor keeps one thread
# busy, and the worker still answers the master's heartbeat, so it is not killed at
# `timeout`. `--threads` on the command line overrides this.
threads = 4
# No control socket: two instances (public, sync) would share ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True

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
        if text.startswith(("Invalid request", "Invalid HTTP")):
            # gunicorn quotes the raw request line and headers here: code, agent, path.
            text = "Invalid request (details withheld)"
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


_PR_SET_DUMPABLE = 4


def post_fork(server: Any, worker: Any) -> None:
    """No core dump of a worker: its memory holds reports in the clear (invariant 1)."""
    forbid_core_dumps()


def forbid_core_dumps() -> None:
    """Core size 0, and not dumpable (also closes /proc/<pid>/mem to other users)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the rlimit alone still applies
        pass


_default_headers = gunicorn_wsgi.Response.default_headers


def _headers_without_banner(self: Any) -> list[str]:
    """gunicorn always sends ``Server: gunicorn``; the public host names no software."""
    return [line for line in _default_headers(self) if not line.startswith("Server:")]


gunicorn_wsgi.Response.default_headers = _headers_without_banner


# What gunicorn answers itself, before Flask sees a request (a request line over 4094
# bytes, a header with a NUL, a malformed chunk): its page has none of the app's
# security headers and quotes the request back. This answer has them and quotes nothing.
_REFUSAL_HEADERS = (
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n"
)


def _write_refusal(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error without the echo: the status alone, as plain text."""
    status = f"{int(status_int)} {reason}"
    body = f"{status}\n".encode("latin-1", "replace")
    head = f"HTTP/1.1 {status}\r\nConnection: close\r\n{_REFUSAL_HEADERS}"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    gunicorn_util.write_nonblock(sock, head.encode("latin-1", "replace") + body)


gunicorn_util.write_error = _write_refusal
