"""Login: passphrase, then a TOTP code usable once; back-off and lockout per account."""

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
from journalist_app.roles import Role
from journalist_app.views.context import EXTENSION

T0 = datetime(2026, 11, 28, 18, 0, 0)  # naive UTC, on a step boundary


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
        now=now,
    )


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


def test_five_failures_lock_the_account_even_against_the_right_passphrase(db, config, unit):
    now = T0
    for failure in range(1, LOCKOUT_AFTER + 1):
        with pytest.raises(BadCredentials) as refused:
            _log_in(db, config, unit, "000000", now, passphrase="not the passphrase at all")
        assert not isinstance(refused.value, AccountLocked)
        officer = _officer(db, unit.username)
        assert officer.failed_logins == failure
        now = officer.locked_until or now  # wait out each back-off
    locked_until = _officer(db, unit.username).locked_until
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
    assert _officer(db, unit.username).failed_logins == LOCKOUT_AFTER

    # After the lock, one more failure locks for twice as long.
    with pytest.raises(BadCredentials):
        _log_in(db, config, unit, "000000", now, passphrase="still not the passphrase")
    assert _officer(db, unit.username).locked_until == now + timedelta(minutes=30)

    # And a success after that resets the count.
    later = now + timedelta(minutes=30)
    assert _log_in(db, config, unit, _code(unit.totp_secret, later), later)
    officer = _officer(db, unit.username)
    assert officer.failed_logins == 0 and officer.locked_until is None


def test_a_wrong_code_counts_as_a_failure_and_a_back_off_refuses_at_once(db, config, unit):
    with pytest.raises(WrongSecondFactor):
        _log_in(db, config, unit, "000000", T0)
    with pytest.raises(AccountLocked):  # within the 1-second back-off
        _log_in(db, config, unit, _code(unit.totp_secret, T0), T0 + timedelta(milliseconds=500))
    assert _log_in(db, config, unit, _code(unit.totp_secret, T0), T0 + timedelta(seconds=1))


def test_the_lockout_is_in_the_database_not_in_the_process_nor_per_address(
    app, client, auth, auth_for, db, unit, monkeypatch
) -> None:
    now = [T0]
    monkeypatch.setattr(clock, "source", lambda: now[0])
    for index in range(LOCKOUT_AFTER):
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{index + 1}"
        assert auth.login(unit.username, "wrong passphrase, again").status_code == 401
        now[0] = _officer(db, unit.username).locked_until or now[0]
    now[0] -= timedelta(minutes=1)

    # Another address, another app on the same database: still locked, and the answer
    # is the one every failure gets.
    other = create_app(app.extensions[EXTENSION].config).test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    other.get("/login?lang=en")
    response = auth_for(other).login()
    assert response.status_code == 401
    assert "Check your username, passphrase and two-factor code" in response.get_data(as_text=True)
    assert other.get("/").status_code == 302
    assert _officer(db, unit.username).failed_logins == LOCKOUT_AFTER


def test_an_admin_lifts_a_lockout(db, config, unit, make_officer) -> None:
    admin = make_officer("admin")
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(BadCredentials):
            _log_in(db, config, unit, "000000", T0, passphrase="wrong passphrase here")
        officer = _officer(db, unit.username)
        officer.locked_until = None  # skip the waiting, keep the count
        db.commit()
    assert _officer(db, unit.username).failed_logins == LOCKOUT_AFTER
    keyring = unlock(db, admin.username, admin.passphrase, config.wrap_params)
    unlock_account(db, keyring, unit.username)
    officer = _officer(db, unit.username)
    assert officer.failed_logins == 0 and officer.locked_until is None
    assert _log_in(db, config, unit, _code(unit.totp_secret, T0), T0)


def test_reaching_the_lockout_ends_the_officers_open_sessions(client, auth, db, config, unit):
    assert auth.login().status_code == 302
    assert client.get("/").status_code == 200
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(BadCredentials):
            _log_in(db, config, unit, "000000", T0, passphrase="someone else guessing")
        officer = _officer(db, unit.username)
        officer.locked_until = None
        db.commit()
    assert client.get("/").headers["Location"].endswith("/login")


def test_unknown_accounts_fail_alike_and_their_name_is_not_logged(db, config, unit) -> None:
    with pytest.raises(BadCredentials) as unknown:
        log_in(
            db,
            "my secret passphrase typed in the wrong field",
            unit.passphrase,
            "123456",
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
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
