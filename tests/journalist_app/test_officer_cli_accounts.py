"""``iblagh-officer`` for accounts: the first admin, resets, grants, removal, demo codes."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from crypto.keys import WRAP_PARAMS_FAST
from journalist_app.accounts.totp import check_code, time_step
from journalist_app.cli.main import main
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, Officer

FIRST = "a passphrase for the first officer"
ADMIN = "the admin's own long passphrase"
NEWCOMER = "the newcomer's chosen words"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "officer"
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    for name in ("IBLAGH_DATABASE_URL", "IBLAGH_SYNC_URL", "IBLAGH_NEW_OFFICER_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    return data_dir


def _run(
    monkeypatch, capsys, args: list[str], passphrase: str | None = None, new: str | None = None
):  # type: ignore[no-untyped-def]
    if passphrase is not None:
        monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", passphrase)
    if new is not None:
        monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", new)
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _session(data_dir: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{data_dir}/officer.sqlite3")
    create_schema(engine)
    return make_session_factory(engine)()


def test_the_first_admin_before_keys_init_gets_the_signing_key_from_it(
    env, tmp_path, monkeypatch, capsys
) -> None:
    status, out, _ = _run(monkeypatch, capsys, ["admin", "create", "--username", "root"], new=ADMIN)
    assert status == 0 and "admin 'root' created" in out
    assert re.search(r"^two-factor secret: [A-Z2-7]{32}$", out, re.MULTILINE)
    status, _, err = _run(
        monkeypatch, capsys, ["admin", "create", "--username", "root2"], new=ADMIN
    )
    assert status == 1 and "an admin exists already" in err

    public = str(tmp_path / "public")
    assert (
        _run(
            monkeypatch,
            capsys,
            ["keys", "init", "--officer", "alice", "--public-out", public],
            FIRST,
        )[0]
        == 0
    )

    keyring = unlock(_session(env), "root", ADMIN, _params())
    assert keyring.signing_key is not None and keyring.intake_keys == {}


def test_reset_list_choose_grant_and_remove_on_the_command_line(env, tmp_path, monkeypatch, capsys):
    public = str(tmp_path / "public")
    _run(monkeypatch, capsys, ["keys", "init", "--officer", "alice", "--public-out", public], FIRST)
    _run(
        monkeypatch,
        capsys,
        ["admin", "create", "--username", "root", "--officer", "alice"],
        FIRST,
        ADMIN,
    )
    status, out, _ = _run(
        monkeypatch,
        capsys,
        ["officer", "add", "--officer", "root", "--new", "omar"],
        ADMIN,
        NEWCOMER,
    )
    assert status == 0 and "granted: no key" in out

    status, out, _ = _run(monkeypatch, capsys, ["officer", "list", "--officer", "root"], ADMIN)
    assert "omar\tanalyst\tno key (needs intake, sync)" in out
    assert "alice\tsupervisor\tidentity, intake, signing, sync" in out

    status, out, _ = _run(
        monkeypatch, capsys, ["keys", "grant", "--officer", "alice", "--to", "omar"], FIRST
    )
    assert status == 0 and out == "2 keys granted to 'omar'\n"

    status, out, _ = _run(
        monkeypatch,
        capsys,
        ["officer", "reset-passphrase", "--officer", "root", "--name", "omar"],
        ADMIN,
    )
    one_time = re.search(r"one-time passphrase for omar: (\S+)", out).group(1)
    # The one-time passphrase unlocks nothing but the change of passphrase.
    status, _, err = _run(monkeypatch, capsys, ["sync", "--officer", "omar"], one_time)
    assert status == 1 and "must first choose their own passphrase" in err
    status, out, _ = _run(
        monkeypatch,
        capsys,
        ["officer", "passphrase", "--officer", "omar"],
        one_time,
        "omar's new words are long",
    )
    assert status == 1  # the policy: not with the username inside
    status, out, _ = _run(
        monkeypatch, capsys, ["officer", "passphrase", "--officer", "omar"], one_time, NEWCOMER
    )
    assert status == 0 and "passphrase of 'omar' changed" in out

    status, out, err = _run(
        monkeypatch, capsys, ["officer", "remove", "--officer", "root", "--name", "alice"], ADMIN
    )
    assert status == 1 and "last holder of the active identity, intake, sync key" in err
    status, out, _ = _run(
        monkeypatch, capsys, ["officer", "remove", "--officer", "root", "--name", "omar"], ADMIN
    )
    assert status == 0 and "removed with 0 grants" in out
    assert _session(env).scalar(select(Officer).where(Officer.username == "omar")) is None


def test_a_2fa_reset_on_the_command_line_prints_a_new_secret(env, tmp_path, monkeypatch, capsys):
    public = str(tmp_path / "public")
    _, init_out, _ = _run(
        monkeypatch, capsys, ["keys", "init", "--officer", "alice", "--public-out", public], FIRST
    )
    _run(
        monkeypatch,
        capsys,
        ["admin", "create", "--username", "root", "--officer", "alice"],
        FIRST,
        ADMIN,
    )
    status, out, _ = _run(
        monkeypatch, capsys, ["officer", "reset-2fa", "--officer", "root", "--name", "alice"], ADMIN
    )
    old = re.search(r"two-factor secret: (\S+)", init_out).group(1)
    new = re.search(r"two-factor secret: (\S+)", out).group(1)
    assert status == 0 and new != old


def test_the_audit_log_names_the_command_that_unlocked(env, tmp_path, monkeypatch, capsys) -> None:
    public = str(tmp_path / "public")
    _run(monkeypatch, capsys, ["keys", "init", "--officer", "alice", "--public-out", public], FIRST)
    _run(
        monkeypatch,
        capsys,
        ["admin", "create", "--username", "root", "--officer", "alice"],
        FIRST,
        ADMIN,
    )
    entries = [
        (e.actor, e.action, e.details)
        for e in _session(env).scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert entries[0][:2] == ("alice", "keys.initialised")
    assert entries[1] == ("alice", "keys.unlocked", '{"command":"admin create","via":"cli"}')
    assert entries[2][:2] == ("alice", "account.created")


def test_demo_code_gives_a_code_that_logs_in_and_works_on_demo_data_only(
    env, tmp_path, monkeypatch, capsys
) -> None:
    public = str(tmp_path / "public")
    status, out, _ = _run(monkeypatch, capsys, ["demo-init", "--public-out", public])
    assert status == 0
    secret = re.search(r"add the secret ([A-Z2-7]{32}) to an authenticator app", out).group(1)
    status, out, _ = _run(monkeypatch, capsys, ["demo-code"])
    code = out.strip()
    assert status == 0 and re.fullmatch(r"[0-9]{6}", code)
    now = datetime.now(UTC)
    assert check_code(secret, code, now, time_step(now) - 2).step is not None
    assert pyotp.TOTP(secret).verify(code, valid_window=1)
    status, _, err = _run(monkeypatch, capsys, ["demo-code", "--officer", "alice"])
    assert status == 1 and "not a demo account" in err


def test_demo_code_refuses_a_real_installation(env, tmp_path, monkeypatch, capsys) -> None:
    public = str(tmp_path / "public")
    _run(monkeypatch, capsys, ["keys", "init", "--officer", "alice", "--public-out", public], FIRST)
    status, _, err = _run(monkeypatch, capsys, ["demo-code", "--officer", "alice"])
    assert status == 1 and "demo installation only" in err


def _params():  # type: ignore[no-untyped-def]
    return WRAP_PARAMS_FAST
