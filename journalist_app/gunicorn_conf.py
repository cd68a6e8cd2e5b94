"""gunicorn settings for the officer app: no banner, logs for this user only, no core dump.

Use: ``gunicorn -c python:journalist_app.gunicorn_conf 'journalist_app.wsgi:app'``
(``make run`` does). Unlocked keyrings live in the worker's memory, so there is exactly
one worker process (threads are fine): ``--workers`` must stay 1.
"""

import ctypes
import os
import resource
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.http import wsgi as gunicorn_wsgi

# Read when gunicorn loads this file, before it opens any log: every file it creates
# (access and error logs) is 0600. An access log names which report and case ids were
# opened, and when: it is for the officer host's own user.
os.umask(0o077)

workers = 1
threads = 4
proc_name = "iblagh-officer"
# Time, method, path without query string, status, bytes, duration: no address, no agent.
accesslog = "-"
access_log_format = "%(t)s %(m)s %(U)s %(s)s %(B)s %(M)sms"
errorlog = "-"
loglevel = "info"
# No control socket: it would sit in ~/.gunicorn, shared with the public host's servers.
control_socket_disable = True

_PR_SET_DUMPABLE = 4


def post_fork(server: Any, worker: Any) -> None:
    """No core dump of the worker: it holds the unlocked keyrings of logged-in officers."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the rlimit alone still applies
        pass


_default_headers = gunicorn_wsgi.Response.default_headers


def _headers_without_banner(self: Any) -> list[str]:
    """gunicorn always sends ``Server: gunicorn``; the officer app names no software."""
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
