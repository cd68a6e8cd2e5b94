"""Login: passphrase, then a TOTP code usable once; back-off and lockout per account."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from journalist_app import clock, create_app
from journalist_app.accounts.login import LOCKOUT_AFTER, backoff, log_in
from journalist_app.accounts.officers import unlock_account
from journalist_app.accounts.totp import check_code, load_or_create_totp_key, open_secret, time_step
from journalist_app.errors import AccountLocked, BadCredentials, WrongSecondFactor
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, Officer
from journalist_app.models.officer import LoginThrottle
from journalist_app.roles import Role
from journalist_app.views.context import EXTENSION

T0 = datetime(2026, 11, 28, 18, 0, 0)  # naive UTC, on a step boundary
DESK = "the tag of one client"


def _code(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment.replace(tzinfo=UTC))


def _log_in(db, config, unit, code: str, now: datetime, passphrase: str | None = None):
    return log_in(
        db,
        unit.username,
        unit.passphrase if passphrase is None else passphrase,
        code,
        params=config.wrap_params,
        totp_key=load_or_create_totp_key(config.data_dir),
        client=DESK,
        now=now,
    )


def _throttle(db, username: str, client: str = DESK) -> LoginThrottle:
    officer = _officer(db, username)
    row = db.scalar(
        select(LoginThrottle).where(
            LoginThrottle.officer_id == officer.id, LoginThrottle.client == client
        )
    )
    assert row is not None
    return row


def _officer(db, username: str) -> Officer:
    db.expire_all()
    officer = db.scalar(select(Officer).where(Officer.username == username))
    assert officer is not None
    return officer


# --- TOTP -------------------------------------------------------------------------------


def test_a_code_works_once_then_neither_it_nor_an_earlier_one(db, config, unit) -> None:
    secret = unit.totp_secret
    keyring = _log_in(db, config, unit, _code(secret, T0), T0)
    assert keyring.username == unit.username and keyring.role == Role.SUPERVISOR.value
    later = T0 + timedelta(seconds=5)

    with pytest.raises(WrongSecondFactor):
        _log_in(db, config, unit, _code(secret, T0), later)  # the same code again
    with pytest.raises(WrongSecondFactor):
        _log_in(
            db,
            config,
            unit,
            _code(secret, T0 - timedelta(seconds=30)),
            later + timedelta(seconds=2),
        )  # older

    # The next step's code is still good (clock drift allows one step ahead).
    assert _log_in(
        db, config, unit, _code(secret, T0 + timedelta(seconds=30)), later + timedelta(seconds=40)
    )
    reasons = [
        entry.details
        for entry in db.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed"))
    ]
    assert all('"reason":"code_replayed"' in reason for reason in reasons) and len(reasons) == 2


def test_the_login_form_refuses_a_code_used_a_moment_ago(client, auth, unit) -> None:
    code = auth.code(unit.username)
    assert auth.login(code=code).status_code == 302
    auth.logout()
    assert auth.login(code=code).status_code == 401
    assert client.get("/").status_code == 302


def test_codes_one_step_either_side_are_accepted_two_are_not(db, config, unit) -> None:
    secret = unit.totp_secret
    assert check_code(
        secret, _code(secret, T0 - timedelta(seconds=30)), T0.replace(tzinfo=UTC), 0
    ).step
    assert check_code(
        secret, _code(secret, T0 + timedelta(seconds=30)), T0.replace(tzinfo=UTC), 0
    ).step
    far = check_code(secret, _code(secret, T0 + timedelta(seconds=61)), T0.replace(tzinfo=UTC), 0)
    assert far.step is None and not far.replayed


def test_a_code_typed_in_arabic_indic_digits_with_spaces_is_accepted(db, config, unit) -> None:
    code = _code(unit.totp_secret, T0)
    arabic = "".join(chr(0x0660 + int(d)) for d in code)
    assert _log_in(db, config, unit, f"{arabic[:3]} {arabic[3:]}", T0)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "000000"])
def test_a_missing_or_malformed_code_is_refused(db, config, unit, code: str) -> None:
    with pytest.raises(WrongSecondFactor):
        _log_in(db, config, unit, code, T0)


def test_the_totp_secret_rests_sealed_and_bound_to_its_account(db, config, unit, make_officer):
    other = make_officer("analyst")
    key = load_or_create_totp_key(config.data_dir)
    alice, analyst = _officer(db, unit.username), _officer(db, other.username)
    assert unit.totp_secret.encode() not in (alice.totp_secret_sealed or b"")
    assert open_secret(key, unit.username, alice.totp_secret_sealed or b"") == unit.totp_secret
    # A row copied onto another account does not open there.
    analyst.totp_secret_sealed = alice.totp_secret_sealed
    db.commit()
    with pytest.raises(Exception, match="belongs to another account"):
        open_secret(key, other.username, analyst.totp_secret_sealed or b"")


def test_the_replay_guard_is_one_atomic_update(db, config, unit) -> None:
    """Two logins racing with one code: the step is claimed with a conditional UPDATE."""
    _log_in(db, config, unit, _code(unit.totp_secret, T0), T0)
    assert _officer(db, unit.username).totp_last_step == time_step(T0.replace(tzinfo=UTC))


# --- back-off and lockout ---------------------------------------------------------------------


def test_back_off_doubles_then_locks_for_15_minutes_then_doubles_again() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 5)] == [1, 2, 4, 8]
    assert backoff(LOCKOUT_AFTER) == timedelta(minutes=15)
    assert backoff(LOCKOUT_AFTER + 1) == timedelta(minutes=30)
    assert backoff(LOCKOUT_AFTER + 2) == timedelta(hours=1)
    assert backoff(100) == timedelta(hours=24)


def test_five_failures_lock_that_client_out_even_against_the_right_passphrase(db, config, unit):
    now = T0
    for failure in range(1, LOCKOUT_AFTER + 1):
        with pytest.raises(BadCredentials) as refused:
            _log_in(db, config, unit, "000000", now, passphrase="not the passphrase at all")
        assert not isinstance(refused.value, AccountLocked)
        throttle = _throttle(db, unit.username)
        assert throttle.failures == failure
        now = throttle.locked_until or now  # wait out each back-off
    locked_until = _throttle(db, unit.username).locked_until
    assert locked_until == now and locked_until - T0 > timedelta(minutes=15)

    # Locked: the right passphrase and code are not even checked.
    with pytest.raises(AccountLocked):
        _log_in(
            db,
            config,
            unit,
            _code(unit.totp_secret, now - timedelta(minutes=1)),
            now - timedelta(minutes=1),
        )
    assert _throttle(db, unit.username).failures == LOCKOUT_AFTER

    # After the lock, one more failure locks for twice as long.
    with pytest.raises(BadCredentials):
        _log_in(db, config, unit, "000000", now, passphrase="still not the passphrase")
    assert _throttle(db, unit.username).locked_until == now + timedelta(minutes=30)

    # And a success after that resets the count.
    later = now + timedelta(minutes=30)
    assert _log_in(db, config, unit, _code(unit.totp_secret, later), later)
    throttle = _throttle(db, unit.username)
    assert throttle.failures == 0 and throttle.locked_until is None


def test_a_wrong_code_counts_as_a_failure_and_a_back_off_refuses_at_once(db, config, unit):
    with pytest.raises(WrongSecondFactor):
        _log_in(db, config, unit, "000000", T0)
    with pytest.raises(AccountLocked):  # within the 1-second back-off
        _log_in(db, config, unit, _code(unit.totp_secret, T0), T0 + timedelta(milliseconds=500))
    assert _log_in(db, config, unit, _code(unit.totp_secret, T0), T0 + timedelta(seconds=1))


def test_the_lockout_is_in_the_database_not_in_the_process(
    app, client, auth, auth_for, db, unit, monkeypatch
) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(LOCKOUT_AFTER):
        assert auth.login(unit.username, "wrong passphrase, again").status_code == 401
        now[0] += timedelta(seconds=9)

    # Another app on the same database, the same client: still locked, and the answer
    # is the one every failure gets.
    other = create_app(app.extensions[EXTENSION].config).test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    other.get("/login?lang=en")
    response = auth_for(other).login()
    assert response.status_code == 401
    assert "Check your username, passphrase and two-factor code" in response.get_data(as_text=True)
    assert other.get("/").status_code == 302


def test_an_admin_lifts_a_lockout(db, config, unit, make_officer) -> None:
    admin = make_officer("admin")
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(BadCredentials):
            _log_in(db, config, unit, "000000", T0, passphrase="wrong passphrase here")
        throttle = _throttle(db, unit.username)
        throttle.locked_until = None  # skip the waiting, keep the count
        db.commit()
    assert _throttle(db, unit.username).failures == LOCKOUT_AFTER
    keyring = unlock(db, admin.username, admin.passphrase, config.wrap_params)
    unlock_account(db, keyring, unit.username)
    db.expire_all()
    assert db.scalar(select(LoginThrottle)) is None
    assert _log_in(db, config, unit, _code(unit.totp_secret, T0), T0)


def test_unknown_accounts_fail_alike_and_their_name_is_not_logged(db, config, unit) -> None:
    with pytest.raises(BadCredentials) as unknown:
        log_in(
            db,
            "my secret passphrase typed in the wrong field",
            unit.passphrase,
            "123456",
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
            client=DESK,
            now=T0,
        )
    with pytest.raises(BadCredentials) as wrong:
        _log_in(db, config, unit, "123456", T0, passphrase="wrong one!!!!")
    assert str(unknown.value) == str(wrong.value)
    logged = " ".join(f"{e.actor} {e.target} {e.details}" for e in db.scalars(select(AuditEntry)))
    assert "wrong field" not in logged and '"reason":"unknown"' in logged


def test_logins_logouts_and_failures_are_in_the_audit_log(client, auth, db, unit) -> None:
    assert auth.login().status_code == 302
    auth.logout()
    assert auth.login(unit.username, "a wrong passphrase here").status_code == 401
    actions = [
        (entry.actor, entry.action, entry.target)
        for entry in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    target = f"officer:{unit.username}"
    assert actions == [
        (unit.username, "login.succeeded", target),
        (unit.username, "logout", target),
        ("", "login.failed", target),
    ]


# --- remote lockout (issue 9, finding 9): locks are per (account, client) -------------------

ATTACKER = "192.0.2.66"
OFFICE = "10.0.0.5"


def _fail_until_locked(client, auth, db, username: str, now: list[datetime]) -> None:
    """Fail from ``client``'s address until its lock is reached, waiting out each back-off."""
    for _ in range(LOCKOUT_AFTER):
        assert auth.login(username, "a guessed passphrase, wrong").status_code == 401
        now[0] += timedelta(seconds=9)  # past the longest back-off before the lock


def test_an_attacker_who_fails_from_another_client_does_not_lock_the_officer_out(
    app, client, auth, auth_for, db, unit, monkeypatch
) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    client.environ_base["REMOTE_ADDR"] = ATTACKER
    _fail_until_locked(client, auth, db, unit.username, now)
    # The attacker's own client is locked, even with the right passphrase and code.
    assert auth.login().status_code == 401

    officer = app.test_client()
    officer.environ_base["REMOTE_ADDR"] = OFFICE
    assert auth_for(officer).login().status_code == 302
    assert officer.get("/").status_code == 200


def test_failed_logins_never_end_the_officers_open_session(
    app, client, auth, auth_for, db, unit, monkeypatch
) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    officer = app.test_client()
    officer.environ_base["REMOTE_ADDR"] = OFFICE
    assert auth_for(officer).login().status_code == 302
    client.environ_base["REMOTE_ADDR"] = ATTACKER
    _fail_until_locked(client, auth, db, unit.username, now)
    for _ in range(3):  # and further failures after the lock
        auth.login(unit.username, "still guessing, still wrong")
    assert officer.get("/").status_code == 200, "the officer's session goes on"
    assert _officer(db, unit.username).session_epoch == 0


def test_a_lockout_alerts_the_admin_on_the_accounts_page_and_in_the_audit_log(
    app, client, auth, auth_for, db, unit, make_officer, monkeypatch
) -> None:
    admin = make_officer("admin")
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    client.environ_base["REMOTE_ADDR"] = ATTACKER
    _fail_until_locked(client, auth, db, unit.username, now)

    alerts = [
        entry
        for entry in db.scalars(select(AuditEntry).where(AuditEntry.action == "login.lockout"))
    ]
    assert [(a.actor, a.target) for a in alerts] == [("", f"officer:{unit.username}")]
    assert '"failures":5' in alerts[0].details and '"client":"' in alerts[0].details

    desk = app.test_client()
    desk.environ_base["REMOTE_ADDR"] = OFFICE
    desk.get("/login?lang=en")
    auth_for(desk).login(admin.username, admin.passphrase)
    page = desk.get("/admin/officers").get_data(as_text=True)
    assert "Login alerts" in page and "Clients locked out" in page
    alert = re.search(r'<tr class="login-alert">(.*?)</tr>', page, re.DOTALL)
    assert alert and f">{unit.username}<" in alert.group(1)
    assert re.findall(r"<td>(\d+)</td>", alert.group(1)) == ["1", "5"]


def test_the_client_address_is_kept_only_as_a_keyed_hash(
    app, client, auth, db, config, unit, monkeypatch
) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    client.environ_base["REMOTE_ADDR"] = ATTACKER
    _fail_until_locked(client, auth, db, unit.username, now)
    db.close()
    stored = b"".join(path.read_bytes() for path in config.data_dir.rglob("*") if path.is_file())
    for form in (ATTACKER.encode(), ATTACKER.encode("utf-16-le")):
        assert form not in stored
    assert hashlib.sha256(ATTACKER.encode()).hexdigest().encode() not in stored
