"""Security keys in Chromium (issue 9, item 11): Chromium's virtual authenticator over CDP
(CTAP2, internal, resident key, user verification, PRF) adds a key on the officer's
account page, then logs in with it alone (its PIN) and as the second factor. The page is
opened as http://localhost:PORT: the relying party is ``localhost``."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page
from sqlalchemy import select
from werkzeug.serving import make_server

from journalist_app import create_app
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.custody import init_unit_keys
from journalist_app.models import AuditEntry
from journalist_app.models.officer import SecurityKey
from journalist_app.views.context import EXTENSION
from tests.journalist_app.conftest import OFFICER, PASSPHRASE, make_config

AUTHENTICATOR = {
    "protocol": "ctap2",
    "ctap2Version": "ctap2_1",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "hasPrf": True,
    "automaticPresenceSimulation": True,
}


@dataclass
class OfficerSite:
    app: Flask
    origin: str
    totp_secret: str


@pytest.fixture
def officer_site(tmp_path: Path) -> Iterator[OfficerSite]:
    config = make_config(tmp_path / "officer")
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    create_schema(engine)
    with make_session_factory(engine)() as session:
        init = init_unit_keys(
            session,
            OFFICER,
            PASSPHRASE,
            config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
        )
    engine.dispose()
    assert init.totp is not None
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # localhost, not 127.0.0.1: a relying party is a host name, never an address.
        yield OfficerSite(app, f"http://localhost:{server.server_port}", init.totp.secret)
    finally:
        server.shutdown()
        thread.join(5)


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    cdp: CDPSession
    authenticator_id: str
    problems: list[str]


@pytest.fixture
def tab(browser: Browser, officer_site: OfficerSite) -> Iterator[Tab]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    # Console errors (a CSP violation, a script error), minus the browser's favicon probe.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(officer_site.origin) else problems.append(r.url),
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    yield Tab(context, page, cdp, added["authenticatorId"], problems)
    context.close()


def _entries(site: OfficerSite) -> list[tuple[str, str, str]]:
    state = site.app.extensions[EXTENSION]
    with state.session_factory() as session:
        return [(e.actor, e.action, e.details) for e in session.scalars(select(AuditEntry))]


def _log_in_with_code(page: Page, site: OfficerSite) -> None:
    page.goto(f"{site.origin}/login?lang=en")
    page.fill("#username", OFFICER)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#code", pyotp.TOTP(site.totp_secret).now())
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{site.origin}/")


def _log_out(page: Page) -> None:
    page.click(".logout button")
    page.wait_for_url("**/login")


def test_an_officer_adds_a_key_and_logs_in_with_its_pin_alone_then_as_second_factor(
    tab: Tab, officer_site: OfficerSite
) -> None:
    page, site = tab.page, officer_site
    _log_in_with_code(page, site)

    page.goto(f"{site.origin}/account/security-keys?lang=en")
    assert page.locator(".webauthn-missing").is_hidden()
    page.fill("#name", "desk key")
    page.fill("#passphrase", PASSPHRASE)
    page.click("#register-form .webauthn-start")
    page.wait_for_selector("tr.security-key")
    row = page.locator("tr.security-key").inner_text()
    assert "desk key" in row and "login without passphrase" in row
    credentials = tab.cdp.send("WebAuthn.getCredentials", {"authenticatorId": tab.authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"]
    _log_out(page)

    # Passwordless: no username, no passphrase, the key and its PIN.
    page.goto(f"{site.origin}/login?lang=en")
    page.click("#passwordless-form .webauthn-start")
    page.wait_for_url(f"{site.origin}/")
    assert "Logged in as alice" in page.inner_text("header")
    _log_out(page)

    # Second factor: passphrase, then the key instead of the six digits.
    page.goto(f"{site.origin}/login?lang=en")
    page.fill("#username", OFFICER)
    page.fill("#passphrase", PASSPHRASE)
    page.click("#login-form .webauthn-start")
    page.wait_for_url(f"{site.origin}/")

    factors = [d for _, action, d in _entries(site) if action == "login.succeeded"]
    assert '"factor":"security_key_pin"' in factors[-2]
    assert '"factor":"security_key"' in factors[-1]
    assert (OFFICER, "security_key.registered") in [(a, b) for a, b, _ in _entries(site)]
    assert tab.problems == []


def test_an_officer_removes_a_key_and_it_no_longer_logs_in(
    tab: Tab, officer_site: OfficerSite
) -> None:
    page, site = tab.page, officer_site
    _log_in_with_code(page, site)
    page.goto(f"{site.origin}/account/security-keys?lang=en")
    page.fill("#name", "lost key")
    page.fill("#passphrase", PASSPHRASE)
    page.click("#register-form .webauthn-start")
    page.wait_for_selector("tr.security-key")
    page.click("tr.security-key button.danger")
    page.wait_for_selector("text=No security key on your account yet.")
    _log_out(page)

    page.goto(f"{site.origin}/login?lang=en")
    page.click("#passwordless-form .webauthn-start")
    page.wait_for_selector(".notice-error")
    assert page.url.startswith(f"{site.origin}/login")
    assert "Login with the security key failed" in page.inner_text("main")
    state = site.app.extensions[EXTENSION]
    with state.session_factory() as session:
        assert session.scalar(select(SecurityKey)) is None
    actions = [b for _, b, _ in _entries(site)]
    assert "security_key.registered" in actions and "security_key.removed" in actions
    assert [p for p in tab.problems if "401" not in p] == []


def test_without_user_verification_the_key_is_refused(tab: Tab, officer_site: OfficerSite) -> None:
    page, site = tab.page, officer_site
    _log_in_with_code(page, site)
    page.goto(f"{site.origin}/account/security-keys?lang=en")
    page.fill("#name", "desk key")
    page.fill("#passphrase", PASSPHRASE)
    page.click("#register-form .webauthn-start")
    page.wait_for_selector("tr.security-key")
    _log_out(page)

    # The PIN is not given: the authenticator answers without the UV flag.
    tab.cdp.send(
        "WebAuthn.setUserVerified",
        {"authenticatorId": tab.authenticator_id, "isUserVerified": False},
    )
    page.goto(f"{site.origin}/login?lang=en")
    page.click("#passwordless-form .webauthn-start")
    # Chromium refuses to answer without the PIN the page requires; the page says so.
    # (An answer forged without the UV flag is refused by the server: test_officer_webauthn.py.)
    status = page.locator("#passwordless-form .webauthn-status")
    status.wait_for(state="visible")
    assert "did not answer" in status.inner_text()
    assert page.url.startswith(f"{site.origin}/login")
    assert "Logged in as" not in page.inner_text("body")
