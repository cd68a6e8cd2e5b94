"""Pieces every public-host response shares: the request class, headers, logging, locale."""

import logging
import traceback
from typing import Any

from flask import Flask, Response, g, request
from flask_babel import format_decimal
from werkzeug.http import parse_range_header

from source_app.uploads import NoDiskRequest

SUPPORTED_LOCALES = ("ar", "fr", "en", "es")
DEFAULT_LOCALE = "ar"
RTL_LOCALES = frozenset({"ar"})

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


# What could identify a reporter's connection: removed before the app sees the request.
IDENTIFYING_ENVIRON_KEYS = (
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_HOST",
    "HTTP_USER_AGENT",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
    "HTTP_CF_CONNECTING_IP",
    "HTTP_TRUE_CLIENT_IP",
)


class ForgetClient:
    """WSGI middleware: the app never sees the client's address or User-Agent.

    What the app does not know it cannot log, store or leak in a crash report
    (docs/invariants.md, 3).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        for key in IDENTIFYING_ENVIRON_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)


def select_locale() -> str:
    """``?lang=`` when it names a shipped language, else the browser's best, else Arabic."""
    asked = request.args.get("lang", "")
    if asked in SUPPORTED_LOCALES:
        return asked
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def ignore_unusable_range() -> None:
    """RFC 9110 §14.2: a Range the server cannot use is ignored (the whole file, 200), not
    refused. werkzeug answered 416 to an unknown unit (``chars=0-1``, which must be
    ignored), to a malformed one (``bytes=abc``) and to several ranges, which it does not
    serve; one byte range past the end stays a 416, as it should."""
    value = request.environ.get("HTTP_RANGE")
    if value is None:
        return
    parsed = parse_range_header(value)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]


def add_security_headers(response: Response, *, https: bool, onion_address: str) -> Response:
    """Headers on every response: no framing, no referrer, no sniffing, no caching."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # A page that seals in the browser (source_app/static_assets.py) may run this host's
    # scripts, its import map and WebAssembly, and fetch from this host; no other page.
    script_src = g.get("script_src")
    if script_src:
        headers["Content-Security-Policy"] += f"; script-src {script_src}; connect-src 'self'"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if onion_address:
        headers["Onion-Location"] = f"http://{onion_address}{request.full_path.rstrip('?')}"
    return response


def configure_logging(app: Flask) -> None:
    """Log what went wrong, never what was sent: no message text, no address, no agent.

    An exception's message can quote input (a decode error quotes the bytes it choked
    on), so only the type and the stack's file/line/function reach the log.
    """
    app.logger.handlers.clear()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    app.logger.addHandler(handler)
    app.logger.setLevel(logging.INFO)
    app.logger.propagate = False


def log_exception_safely(app: Flask, exc: BaseException) -> None:
    """Record an unexpected failure by type and location only."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[::-1])
    app.logger.error("unhandled %s at %s", type(exc).__name__, where)


class PublicFlask(Flask):
    """Flask with a request class that never spools to disk and a log that never quotes."""

    request_class = NoDiskRequest

    def log_exception(self, exc_info: Any) -> None:
        log_exception_safely(self, exc_info[1])


def format_size(size: int) -> str:
    """A byte count as people read it (``500 MB``), with the locale's digits and separators."""
    units = ("B", "KB", "MB", "GB", "TB")
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    shown = format_decimal(round(value, 1) if value < 10 and unit else round(value))
    return f"{shown} {units[unit]}"
