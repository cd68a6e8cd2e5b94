"""The officer application: accounts, key custody, sync and reading, on the isolated host.

``create_app(config)`` builds everything; importing this package does nothing.
"""

import os
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from journalist_app.row_ids import MAX_ROW_ID

if TYPE_CHECKING:
    from journalist_app.config import OfficerConfig


class DatabaseInteger(IntegerConverter):
    """``<int:…>`` bounded to a signed 64-bit integer, the widest id a database stores:
    a larger number in a URL is a 404, not an overflow in the driver (a 500)."""

    def __init__(self, url_map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)  # type: ignore[arg-type]


SESSION_COOKIE_NAME = "iblagh_officer"


def create_app(config: "OfficerConfig | None" = None) -> Flask:
    """Build the officer web app for ``config`` (default: from ``IBLAGH_*`` variables).

    Every module of the app is imported here, not at package import: importing one
    officer module (a CLI command, a model) must not import every view.
    """
    from flask_wtf.csrf import CSRFProtect

    from journalist_app.config import OfficerConfig, load_or_create_secret_key
    from journalist_app.database import make_engine, make_session_factory
    from journalist_app.i18n import init_i18n
    from journalist_app.keys.keyring import KeyringStore
    from journalist_app.schema import upgrade_to_head
    from journalist_app.sync.blob_store_s3 import open_blob_store
    from journalist_app.triage.categories import install as install_categories
    from journalist_app.views import (
        access,
        account,
        admin,
        auth,
        case_files,
        case_reporter,
        cases,
        errors,
        guard,
        keys,
        reports,
    )
    from journalist_app.views import audit as audit_views
    from journalist_app.views import referral as referral_views
    from journalist_app.views import retention as retention_views
    from journalist_app.views import search as search_views
    from journalist_app.views import stats as stats_views
    from journalist_app.views.context import EXTENSION, OfficerState

    config = config or OfficerConfig.from_env(os.environ)
    config.ensure_data_dir()
    app = Flask(__name__)
    # Before any route is added: <int:…> ids beyond the database's integers are not found.
    app.url_map.converters["int"] = DatabaseInteger
    app.config.update(
        SECRET_KEY=load_or_create_secret_key(config),
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        # Only small forms are posted to the officer app.
        MAX_CONTENT_LENGTH=64 * 1024,
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="UTC",
    )
    install_categories(app, config.categories)
    engine = make_engine(config.database_url)
    upgrade_to_head(engine)
    app.extensions[EXTENSION] = OfficerState(
        config=config,
        session_factory=make_session_factory(engine),
        blob_store=open_blob_store(config),
        keyrings=KeyringStore(
            idle_seconds=config.session_minutes * 60,
            absolute_seconds=config.session_max_minutes * 60,
        ),
    )
    CSRFProtect(app)
    init_i18n(app)
    guard.init_app(app)
    errors.init_app(app)
    access.init_app(app)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(reports.blueprint)
    for blueprint in (account.blueprint, admin.blueprint, keys.blueprint, audit_views.blueprint):
        app.register_blueprint(blueprint)
    for blueprint in (cases.blueprint, case_reporter.blueprint, case_files.blueprint):
        app.register_blueprint(blueprint)
    app.register_blueprint(search_views.blueprint)
    if config.sync_interval_minutes:
        from journalist_app.sync.schedule import AutoSync

        scheduler = AutoSync(app.extensions[EXTENSION], config.sync_interval_minutes * 60)
        app.extensions["iblagh_autosync"] = scheduler
        scheduler.start()
    app.register_blueprint(stats_views.blueprint)
    app.register_blueprint(retention_views.blueprint)
    app.register_blueprint(referral_views.blueprint)
    return app
