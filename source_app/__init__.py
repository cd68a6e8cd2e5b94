"""The public host: the report site and, on another listener, the sync API.

``create_app`` builds the public pages, ``create_sync_app`` the sync API; both verify
the unit's recipient set before anything else and refuse to start without it.
"""

from datetime import UTC, datetime, timedelta

from flask import Flask, Response, jsonify, render_template
from flask_babel import Babel, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from source_app.admission import admit_request
from source_app.catalogs import CompiledDomain, compile_catalogs
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost, build_host, close_db_session
from source_app.shared_state import SharedStateUnavailable
from source_app.uploads import TooManyAttachments, UploadsTooLarge
from source_app.urls import MAX_URLS
from source_app.web import (
    RTL_LOCALES,
    SUPPORTED_LOCALES,
    ForgetClient,
    PublicFlask,
    add_security_headers,
    configure_logging,
    format_size,
    ignore_unusable_range,
    log_exception_safely,
    select_locale,
)

LANGUAGE_NAMES = {"ar": "العربية", "fr": "Français", "en": "English", "es": "Español"}

ERROR_MESSAGES = {
    400: _l("The form could not be read. Please check what you entered and try again."),
    403: _l("This action is not allowed."),
    404: _l("This page does not exist."),
    405: _l("This page cannot be used this way."),
    413: _l("What you sent is too large."),
    415: _l("Files cannot be attached on this page."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Nothing you sent was kept half-way."),
    503: _l("The service is busy. Nothing you sent was kept. Please try again in a few minutes."),
    507: _l(
        "The service is short of storage space, so files cannot be received right now. "
        "Nothing you sent was kept. Try again later, or send your report without files."
    ),
}
# Refusals that say more than their status code (source_app/uploads.py).
SPECIFIC_MESSAGES: dict[type[HTTPException], LazyString] = {
    TooManyAttachments: _l(
        "Too many files: a report can carry at most %(count)s. Nothing you sent was kept."
    ),
    UploadsTooLarge: _l(
        "The files are too large together: at most %(size)s. Nothing you sent was kept."
    ),
}


def create_app(config: SourceConfig | None = None) -> Flask:
    """The public report site."""
    host = build_host(config or SourceConfig.from_env())
    app = _base_app(host)
    # Before the CSRF check, which reads the whole body (source_app/admission.py).
    app.before_request(admit_request)
    CSRFProtect(app)
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = CompiledDomain(compile_catalogs())

    from source_app.views.public import blueprint as public_blueprint

    app.register_blueprint(public_blueprint)

    from source_app.views.sealed import blueprint as sealed_blueprint

    app.register_blueprint(sealed_blueprint)
    # Ciphertext is never parsed as a form: the view checks the token from a header.
    app.extensions["csrf"].exempt(sealed_blueprint)

    from source_app.views.uploads import blueprint as uploads_blueprint

    app.register_blueprint(uploads_blueprint)
    app.extensions["csrf"].exempt(uploads_blueprint)

    app.add_template_filter(format_size, "filesize")

    @app.context_processor
    def page_context() -> dict[str, object]:
        locale = str(get_locale())
        return {
            "locale": locale,
            "text_direction": "rtl" if locale in RTL_LOCALES else "ltr",
            "languages": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LOCALES],
            "max_attachments": host.config.max_attachments,
            "max_upload_bytes": host.config.max_upload_bytes,
            "max_urls": MAX_URLS,
            # The reporter's today may already be tomorrow in UTC (forms.SeenOnField).
            "today": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
        }

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> tuple[str, int]:
        message = _l("Your form expired or was sent from elsewhere. Please fill it in again.")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[400 if status < 500 else 500])
        if type(error) in SPECIFIC_MESSAGES:
            message = SPECIFIC_MESSAGES[type(error)] % {
                "count": format_decimal(host.config.max_attachments),
                "size": format_size(host.config.max_upload_bytes),
            }
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(SharedStateUnavailable)
    def shared_state_down(_error: SharedStateUnavailable) -> tuple[str, int]:
        # Fail closed: without the shared counters nothing rate-limited is taken (the
        # log line is source_app/shared_state.py's); pages that need none are served.
        return render_template("error.html", status=503, message=ERROR_MESSAGES[503]), 503

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[str, int]:
        log_exception_safely(app, error)
        return render_template("error.html", status=500, message=ERROR_MESSAGES[500]), 500

    return app


def create_sync_app(config: SourceConfig | None = None) -> Flask:
    """The sync API alone, to serve on its own listener (docs/sync-api.md)."""
    host = build_host(config or SourceConfig.from_env())
    app = _base_app(host)
    app.config["MAX_CONTENT_LENGTH"] = host.config.max_sync_request_bytes

    from source_app.views.sync_api import blueprint as sync_blueprint

    app.register_blueprint(sync_blueprint)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        return jsonify({"error": error.name.lower().replace(" ", "_")}), status

    @app.errorhandler(SharedStateUnavailable)
    def shared_state_down(_error: SharedStateUnavailable) -> tuple[Response, int]:
        # Fail closed: a nonce that cannot be recorded could be replayed elsewhere.
        return jsonify({"error": "unavailable"}), 503

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[Response, int]:
        log_exception_safely(app, error)
        return jsonify({"error": "internal"}), 500

    return app


def _base_app(host: PublicHost) -> Flask:
    config = host.config
    app = PublicFlask(__name__)
    app.wsgi_app = ForgetClient(app.wsgi_app)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=config.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.https,
        SESSION_COOKIE_NAME="session",
        WTF_CSRF_TIME_LIMIT=4 * 3600,
        WTF_CSRF_SSL_STRICT=config.https,
        TESTING=config.testing,
    )
    app.extensions[EXTENSION_KEY] = host
    configure_logging(app)
    app.teardown_appcontext(close_db_session)
    app.before_request(ignore_unusable_range)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.pop("Server", None)
        return add_security_headers(
            response, https=config.https, onion_address=config.onion_address
        )

    return app
