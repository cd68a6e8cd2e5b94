"""Security keys (WebAuthn, issue 9, item 11) through the officer app's forms, with a software
key signing real answers (tests/support/security_key.py); Chromium's virtual authenticator
plays the same flows in tests/browser/test_officer_webauthn_browser.py."""

import html
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from journalist_app import clock
from journalist_app.accounts import officers
from journalist_app.accounts.throttle import LOCKOUT_AFTER
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, Officer
from journalist_app.models.officer import LoginThrottle, SecurityKey
from tests.journalist_app.conftest import csrf_token
from tests.support.security_key import SoftKey


def _data(page: str, form_id: str, name: str) -> str:
    form = re.search(rf'<form[^>]*id="{form_id}"[^>]*>', page, re.DOTALL)
    assert form, f"no form {form_id}"
    value = re.search(rf'{name}="([^"]*)"', form.group(0))
    assert value, f"no {name} on {form_id}"
    return html.unescape(value.group(1))


def _register(client, auth, key: SoftKey, passphrase: str, *, name: str = "blue key", prf=True):
    page = client.get("/account/security-keys?lang=en").get_data(as_text=True)
    options = _data(page, "register-form", "data-options")
    return client.post(
        "/account/security-keys",
        data={
            "csrf_token": csrf_token(page),
            "name": name,
            "passphrase": passphrase,
            "registration": key.create(options),
            "prf": key.prf(_data(page, "register-form", "data-prf-salt")) if prf else "",
        },
    )


def _passwordless(client, key: SoftKey, **answer):
    page = client.get("/login?lang=en").get_data(as_text=True)
    options = _data(page, "passwordless-form", "data-options")
    return client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page),
            "method": "security-key",
            "assertion": key.get(options, **answer),
            "prf": key.prf(_data(page, "passwordless-form", "data-prf-salt")),
        },
    )


def _second_factor(client, key: SoftKey, username: str, passphrase: str):
    page = client.get("/login?lang=en").get_data(as_text=True)
    return client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page),
            "username": username,
            "passphrase": passphrase,
            "code": "",
            "assertion": key.get(_data(page, "login-form", "data-options")),
        },
    )


def _audit(db) -> list[tuple[str, str, str]]:
    db.expire_all()
    return [(e.actor, e.action, e.details) for e in db.scalars(select(AuditEntry))]


@pytest.fixture
def key() -> SoftKey:
    return SoftKey()


def test_an_officer_adds_a_key_then_logs_in_with_it_instead_of_the_code(
    app, client, auth, db, unit, key
) -> None:
    auth.login()
    assert _register(client, auth, key, unit.passphrase).status_code == 302
    listing = client.get("/account/security-keys?lang=en").get_data(as_text=True)
    assert "blue key" in listing and "login without passphrase" in listing
    auth.logout()

    response = _second_factor(client, key, unit.username, unit.passphrase)
    assert response.status_code == 302 and client.get("/").status_code == 200
    logins = [d for _, action, d in _audit(db) if action == "login.succeeded"]
    assert '"factor":"security_key"' in logins[-1]


def test_a_key_with_its_pin_alone_logs_in_and_unlocks_the_keys(
    app, client, auth, db, unit, key, mailbox
) -> None:
    report = mailbox.add_report({"v": 1, "category": "fraud", "description": "read by key"})
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()

    assert _passwordless(client, key).status_code == 302
    auth.sync()
    assert "read by key" in client.get(f"/reports/{report.id}").get_data(as_text=True)
    logins = [d for _, action, d in _audit(db) if action == "login.succeeded"]
    assert '"factor":"security_key_pin"' in logins[-1]


def test_without_the_pin_a_key_does_not_log_in_and_the_failure_counts(
    client, auth, db, unit, key
) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    assert _passwordless(client, key, user_verified=False).status_code == 401
    assert client.get("/").status_code == 302
    assert [row.failures for row in db.scalars(select(LoginThrottle))] == [1]


def test_an_answer_made_for_another_origin_is_refused(client, auth, db, unit, key) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    assert _passwordless(client, key, origin="http://officer.evil.localhost").status_code == 401
    assert client.get("/").status_code == 302


def test_a_replayed_answer_is_refused(app, client, auth, db, unit, key) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    page = client.get("/login?lang=en").get_data(as_text=True)
    cookie = client.get_cookie("iblagh_officer")
    assert cookie is not None
    form = {
        "csrf_token": csrf_token(page),
        "method": "security-key",
        "assertion": key.get(_data(page, "passwordless-form", "data-options")),
        "prf": key.prf(_data(page, "passwordless-form", "data-prf-salt")),
    }
    assert client.post("/login", data=form).status_code == 302
    # Someone who copied the request and the cookie it went with plays both again.
    thief = app.test_client()
    thief.set_cookie("iblagh_officer", cookie.value)
    assert thief.post("/login", data=form).status_code == 401
    assert thief.get("/").status_code == 302


def test_a_cloned_key_whose_counter_went_back_is_refused(client, auth, db, unit, key) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    assert _passwordless(client, key).status_code == 302
    auth.logout()
    assert _passwordless(client, key, counter=1).status_code == 401


def test_adding_a_key_asks_the_passphrase_and_counts_a_wrong_one(
    client, auth, db, unit, key
) -> None:
    auth.login()
    assert _register(client, auth, key, "not my passphrase at all").status_code == 400
    assert db.scalar(select(SecurityKey)) is None
    assert [row.failures for row in db.scalars(select(LoginThrottle))] == [1]


def test_another_officers_key_is_no_second_factor_for_this_account(
    client, auth, auth_for, app, db, unit, key, make_officer
) -> None:
    analyst = make_officer("analyst")
    theirs = app.test_client()
    auth_for(theirs).login(analyst.username, analyst.passphrase)
    _register(theirs, auth_for(theirs), key, analyst.passphrase)
    assert _second_factor(client, key, unit.username, unit.passphrase).status_code == 401
    assert client.get("/").status_code == 302


def test_registration_and_removal_are_audited(client, auth, db, unit, key) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    stored = db.scalar(select(SecurityKey))
    assert stored is not None
    token = auth.csrf("/account/security-keys")
    response = client.post(f"/account/security-keys/{stored.id}/remove", data={"csrf_token": token})
    assert response.status_code == 302
    db.expire_all()
    assert db.scalar(select(SecurityKey)) is None
    entries = [(actor, action) for actor, action, _ in _audit(db)]
    assert (unit.username, "security_key.registered") in entries
    assert (unit.username, "security_key.removed") in entries
    assert client.post("/account/security-keys/99999999999999999999/remove").status_code == 404


def test_nobody_removes_another_officers_key(
    client, auth, auth_for, app, db, unit, key, make_officer
):
    analyst = make_officer("analyst")
    theirs = app.test_client()
    auth_for(theirs).login(analyst.username, analyst.passphrase)
    _register(theirs, auth_for(theirs), key, analyst.passphrase)
    stored = db.scalar(select(SecurityKey))
    auth.login()
    token = auth.csrf("/account/security-keys")
    response = client.post(f"/account/security-keys/{stored.id}/remove", data={"csrf_token": token})
    assert response.status_code == 404
    db.expire_all()
    assert db.scalar(select(SecurityKey)) is not None


def test_a_passphrase_change_turns_login_without_passphrase_off(
    client, auth, db, unit, key, monkeypatch
) -> None:
    auth.login()
    _register(client, auth, key, unit.passphrase)
    new = "a new passphrase for this officer"
    client.post(
        "/account/passphrase",
        data={
            "csrf_token": auth.csrf("/account/passphrase"),
            "current": unit.passphrase,
            "new": new,
            "repeat": new,
        },
    )
    db.expire_all()
    assert db.scalar(select(SecurityKey)).wrapped_private_key is None
    auth.logout()
    assert _passwordless(client, key).status_code == 401
    # Still a second factor, with the new passphrase (once the failure's back-off passed).
    later = clock.utc_now() + timedelta(seconds=2)
    monkeypatch.setattr(clock, "source", lambda: later)
    assert _second_factor(client, key, unit.username, new).status_code == 302


def test_a_second_factor_reset_removes_the_accounts_keys(
    client, auth, db, config, unit, key, make_officer
) -> None:
    admin = make_officer("admin")
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    officers.reset_second_factor(
        db,
        unlock(db, admin.username, admin.passphrase, config.wrap_params),
        unit.username,
        totp_key=load_or_create_totp_key(config.data_dir),
    )
    db.expire_all()
    assert db.scalar(select(SecurityKey)) is None
    assert _passwordless(client, key).status_code == 401


def test_key_failures_lock_out_only_that_client(app, client, auth, auth_for, db, unit, key):
    auth.login()
    _register(client, auth, key, unit.passphrase)
    auth.logout()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    for _ in range(LOCKOUT_AFTER + 1):
        _passwordless(client, key, user_verified=False)
        db.expire_all()
        for row in db.scalars(select(LoginThrottle)):
            row.locked_until = None if row.failures < LOCKOUT_AFTER else row.locked_until
        db.commit()
    assert _passwordless(client, key).status_code == 401, "this client is locked out"
    desk = app.test_client()
    assert _passwordless(desk, key).status_code == 302, "the officer's own desk is not"


def test_the_login_page_works_without_javascript(client, unit) -> None:
    page = client.get("/login?lang=en").get_data(as_text=True)
    # The key buttons are hidden until the script shows them; the code field is there.
    assert re.search(r'<button type="button" class="webauthn-start" hidden>', page)
    assert 'name="code"' in page and "needs JavaScript" in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/webauthn.js" defer>']


def test_the_first_login_with_a_totp_code_still_works(client, auth, db, unit) -> None:
    officer = db.scalar(select(Officer).where(Officer.username == unit.username))
    assert officer is not None
    assert auth.login(code=pyotp.TOTP(unit.totp_secret).now()).status_code == 302
