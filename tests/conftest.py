"""Fixtures shared by the whole suite: unit keys, a public host on a real database."""

import io
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from sqlalchemy import create_engine, text

from crypto.encoding import b64encode
from crypto.keys import generate_box_key, generate_signing_key
from crypto.recipients import RecipientSet, make_recipient_set, sign_recipient_set
from tests.support.s3 import s3_endpoint  # noqa: F401  # fixture: moto's server on loopback

POSTGRES_ENV = "IBLAGH_TEST_POSTGRES_URL"
# The suite hashes officer passphrases with IBLAGH_KDF=fast, which the officer host takes
# only from a test run; the commands tests start inherit it with the environment.
os.environ["IBLAGH_TESTING"] = "1"


@dataclass(frozen=True)
class UnitKeys:
    """The unit's keys as the officer side holds them, for tests that play both ends."""

    intake: PrivateKey
    recovery: PrivateKey
    signing: SigningKey
    sync: SigningKey
    # Opens identity sections only; intake opens everything else (crypto/recipients.py).
    identity: PrivateKey

    @property
    def recipient_set(self) -> RecipientSet:
        return make_recipient_set(
            1,
            "2026-11-28T00:00:00Z",
            [self.intake.public_key],
            self.recovery.public_key,
            [self.sync.verify_key],
            identity_keys=[self.identity.public_key],
        )

    def install(self, data_dir: Path) -> None:
        """Write what ``keys init`` gives the public host: the signed set and the verify key."""
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "recipient-set.json").write_bytes(
            sign_recipient_set(self.recipient_set, self.signing)
        )
        (data_dir / "unit-verify-key").write_text(b64encode(bytes(self.signing.verify_key)))


@pytest.fixture(scope="session")
def unit_keys() -> UnitKeys:
    return UnitKeys(
        intake=generate_box_key(),
        recovery=generate_box_key(),
        signing=generate_signing_key(),
        sync=generate_signing_key(),
        identity=generate_box_key(),
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the PostgreSQL named by IBLAGH_TEST_POSTGRES_URL, dropped after."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any failure here means "not reachable"
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is not reachable: {type(exc).__name__}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# Officer test modules that set ``OFFICER_ENGINES = BOTH_ENGINES`` run each test that uses
# the officer database on SQLite and on PostgreSQL; IBLAGH_TEST_OFFICER_ENGINES=both does
# it for every officer test.
BOTH_ENGINES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "officer_database_url" not in metafunc.fixturenames:
        return
    engines = getattr(metafunc.module, "OFFICER_ENGINES", ("sqlite",))
    if os.environ.get("IBLAGH_TEST_OFFICER_ENGINES") == "both":
        engines = BOTH_ENGINES
    metafunc.parametrize("officer_database_url", engines, indirect=True)


@pytest.fixture
def officer_database_url(request: pytest.FixtureRequest) -> str:
    """Empty (SQLite in the officer's data dir) or a fresh PostgreSQL schema's URL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return ""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for it runs on a real SQLite file and on real PostgreSQL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'source-db.sqlite'}"


# Tests post many forms from one session; the limits get tests of their own.
GENEROUS_LIMITS = {
    "IBLAGH_SUBMISSIONS_PER_MINUTE": "100000",
    "IBLAGH_CODE_ATTEMPTS_PER_MINUTE": "100000",
    "IBLAGH_CODE_ATTEMPTS_PER_SESSION": "100000",
}


def source_environ(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    environ = {"IBLAGH_DATA_DIR": str(data_dir), **GENEROUS_LIMITS}
    if database_url:
        environ["IBLAGH_DATABASE_URL"] = database_url
    return environ


@pytest.fixture
def source_data_dir(tmp_path: Path, unit_keys: UnitKeys) -> Path:
    data_dir = tmp_path / "source"
    unit_keys.install(data_dir)
    return data_dir


@pytest.fixture
def source_app(source_data_dir: Path) -> Flask:
    from source_app import create_app
    from source_app.config import SourceConfig

    return create_app(SourceConfig.from_env(source_environ(source_data_dir)))


@pytest.fixture
def client(source_app: Flask) -> FlaskClient:
    return source_app.test_client()


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CODE = re.compile(r"<bdi>([0-9 ]{24})</bdi>")


class ReporterActions:
    """What a reporter does on the public site, as a test helper."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self, path: str = "/report") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = _CSRF.search(page)
        assert match, "form has no CSRF token"
        return match.group(1)

    def report_form(
        self,
        description: str = "A channel posts propaganda every day.",
        url: str = "https://t.me/example/42",
        category: str = "terrorism",
        full_name: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A complete, valid report form; ``fields`` add or override fields."""
        return {
            "csrf_token": self.csrf_token(),
            "category": category,
            "urls": url,
            "description": description,
            "identity": "identified" if full_name else "anonymous",
            "full_name": full_name or "",
            "phone": "06 12 34 56 78" if full_name else "",
            "good_faith": "y",
            **fields,
        }

    def report(
        self,
        description: str = "A channel posts propaganda every day.",
        url: str = "https://t.me/example/42",
        category: str = "terrorism",
        full_name: str | None = None,
        lang: str = "en",
        files: list[tuple[bytes, str]] | None = None,
        **fields: Any,
    ) -> str:
        """Submit a report (with files: content and name) and return the receipt code shown."""
        data = self.report_form(description, url, category, full_name, **fields)
        if files:
            data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
        response = self.client.post(
            f"/report?lang={lang}", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        match = _CODE.search(response.get_data(as_text=True))
        assert match, "receipt page shows no code"
        return match.group(1)

    def status(self, code: str) -> tuple[int, str]:
        data = {"csrf_token": self.csrf_token("/status"), "code": code}
        response = self.client.post("/status?lang=en", data=data)
        return response.status_code, response.get_data(as_text=True)

    def follow_up(
        self,
        code: str,
        message: str = "More: the channel moved to a new address.",
        files: list[tuple[bytes, str]] | None = None,
        **fields: Any,
    ) -> tuple[int, str]:
        """Add to a report with its code; returns the status and the page."""
        data: dict[str, Any] = {
            "csrf_token": self.csrf_token("/followup"),
            "code": code,
            "message": message,
            **fields,
        }
        if files:
            data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
        response = self.client.post(
            "/followup?lang=en", data=data, content_type="multipart/form-data"
        )
        return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def reporter(client: FlaskClient) -> ReporterActions:
    return ReporterActions(client)
