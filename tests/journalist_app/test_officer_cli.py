import base64
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.recipients import verify_recipient_set
from journalist_app.cli.main import main

PASSPHRASE = "a passphrase for the command line"
ADMIN_PASSPHRASE = "the admin's own long passphrase"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "officer"
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("IBLAGH_NEW_OFFICER_PASSPHRASE", raising=False)
    monkeypatch.delenv("IBLAGH_DATABASE_URL", raising=False)
    monkeypatch.delenv("IBLAGH_SYNC_URL", raising=False)
    return data_dir


def _public_files(directory: Path):
    verify_key = VerifyKey(base64.b64decode((directory / "unit-verify-key").read_text().strip()))
    return verify_recipient_set((directory / "recipient-set.json").read_bytes(), verify_key)


def test_keys_init_writes_public_files_and_prints_the_recovery_secret_once(
    env, tmp_path, capsys
) -> None:
    public = tmp_path / "public"
    assert main(["keys", "init", "--officer", "alice", "--public-out", str(public)]) == 0
    out = capsys.readouterr().out

    recipient_set = _public_files(public)
    assert recipient_set.serial == 1
    assert sorted(r.role for r in recipient_set.recipients) == ["identity", "intake", "recovery"]
    assert len(recipient_set.sync_verify_keys) == 1
    assert (public / "unit-verify-key").read_text().count("\n") == 1
    assert len(re.findall(r"^two-factor secret: [A-Z2-7]{32}$", out, re.MULTILINE)) == 1
    assert "otpauth://totp/Iblagh:alice?secret=" in out
    [secret_line] = [line for line in out.splitlines() if line.startswith("recovery secret: ")]
    recovery = PrivateKey(base64.b64decode(secret_line.split(": ", 1)[1]))
    envelope = seal_bytes(b"x", recipient_set.public_keys(), EnvelopeMetadata(kind="report"))
    assert open_bytes(envelope, [recovery])[1] == b"x"


def test_keys_init_refuses_when_keys_exist(env, tmp_path, capsys) -> None:
    public = tmp_path / "public"
    main(["keys", "init", "--officer", "alice", "--public-out", str(public)])
    before = (public / "recipient-set.json").read_bytes()
    capsys.readouterr()

    assert main(["keys", "init", "--officer", "bob", "--public-out", str(public)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: unit keys already exist")
    assert "recovery secret" not in captured.out
    assert (public / "recipient-set.json").read_bytes() == before


def test_demo_init_is_idempotent_and_keeps_its_login_private(
    env, tmp_path, monkeypatch, capsys
) -> None:
    public = tmp_path / "public"
    assert main(["demo-init", "--public-out", str(public), "--demo-cases", "0"]) == 0
    first_out = capsys.readouterr().out
    first_files = {p.name: p.read_bytes() for p in public.iterdir()}
    (public / "recipient-set.json").unlink()

    assert main(["demo-init", "--public-out", str(public), "--demo-cases", "0"]) == 0
    second_out = capsys.readouterr().out

    assert {p.name: p.read_bytes() for p in public.iterdir()} == first_files
    login = [line for line in first_out.splitlines() if line.startswith("DEMO ONLY")]
    assert login and login == [line for line in second_out.splitlines() if line.startswith("DEMO")]
    assert [line.split()[5] for line in login] == ["demo", "demo-admin"]
    assert "demo (supervisor)" in login[0] and "demo-admin (admin)" in login[1]
    passphrase = login[1].rsplit(" ", 1)[1]
    credentials = env / "demo-credentials.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "DEMO ONLY" in credentials.read_text() and passphrase in credentials.read_text()
    # Each login line tells how to get a two-factor code.
    assert first_out.count("authenticator app") == 2
    assert f"IBLAGH_DATA_DIR={env} iblagh-officer demo-code --officer demo-admin" in first_out
    # The printed admin login really unlocks, and the admin holds the signing key.
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", passphrase)
    assert main(["export-public", "--officer", "demo-admin", "--public-out", str(public)]) == 0


def test_demo_init_refuses_a_data_dir_with_real_keys(env, tmp_path, capsys) -> None:
    main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "public")])
    assert main(["demo-init", "--public-out", str(tmp_path / "public")]) == 1
    assert "demo-init did not make" in capsys.readouterr().err


def test_export_public_signs_a_new_serial_with_the_same_keys(env, tmp_path, monkeypatch) -> None:
    public = tmp_path / "public"
    main(["keys", "init", "--officer", "alice", "--public-out", str(public)])
    first = _public_files(public)
    # The supervisor alice holds the signing key but may not manage keys: an admin may.
    assert main(["export-public", "--officer", "alice", "--public-out", str(public)]) == 1
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", ADMIN_PASSPHRASE)
    assert main(["admin", "create", "--username", "root", "--officer", "alice"]) == 0
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", ADMIN_PASSPHRASE)
    assert main(["export-public", "--officer", "root", "--public-out", str(public)]) == 0
    second = _public_files(public)
    assert second.serial == first.serial + 1
    assert second.recipients == first.recipients
    assert second.sync_verify_keys == first.sync_verify_keys


def test_officer_add_then_the_new_officer_unlocks(env, tmp_path, monkeypatch, capsys) -> None:
    main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "public")])
    # Only an admin adds officers: alice, a supervisor, may not.
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", "the second officer's own words")
    assert main(["officer", "add", "--officer", "alice", "--new", "bob"]) == 1
    assert "may not do this: it needs accounts.manage" in capsys.readouterr().err
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", ADMIN_PASSPHRASE)
    assert main(["admin", "create", "--username", "root", "--officer", "alice"]) == 0
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", ADMIN_PASSPHRASE)
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", "the second officer's own words")
    assert main(["officer", "add", "--officer", "root", "--new", "bob", "--role", "admin"]) == 0
    assert "officer 'bob' (admin) added, granted: signing" in capsys.readouterr().out
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", "the second officer's own words")
    assert main(["export-public", "--officer", "bob", "--public-out", str(tmp_path / "p2")]) == 0
    capsys.readouterr()
    assert main(["officer", "add", "--officer", "bob", "--new", "bob"]) == 1
    assert capsys.readouterr().err == "error: an officer named 'bob' already exists\n"


def test_a_wrong_passphrase_is_one_line_and_exit_1(env, tmp_path, monkeypatch, capsys) -> None:
    main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "public")])
    capsys.readouterr()
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", "not alice's passphrase")
    assert main(["sync", "--officer", "alice"]) == 1
    assert capsys.readouterr().err == "error: unknown officer or wrong passphrase\n"


def test_sync_against_an_unreachable_url_says_so_without_a_traceback(
    env, tmp_path, unused_url
) -> None:
    main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "public")])
    command = "from journalist_app.cli.main import main; raise SystemExit(main())"
    result = subprocess.run(
        [sys.executable, "-c", command, "sync", "--officer", "alice"],
        env={**os.environ, "IBLAGH_SYNC_URL": unused_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot reach the public host at {unused_url}: [Errno 111] Connection refused\n"
    )


def test_a_missing_passphrase_without_a_terminal_is_one_line(env, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IBLAGH_OFFICER_PASSPHRASE")
    command = "from journalist_app.cli.main import main; raise SystemExit(main())"
    public = str(tmp_path / "public")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            command,
            "keys",
            "init",
            "--officer",
            "alice",
            "--public-out",
            public,
        ],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    # The prompt went to the terminal side (stderr) first, without a line feed.
    assert result.stderr.endswith(
        "error: no passphrase given: set IBLAGH_OFFICER_PASSPHRASE or run in a terminal\n"
    )
    assert "Traceback" not in result.stderr


def test_sync_prints_progress_and_a_summary(
    env, monkeypatch, capsys, config, unit, mailbox
) -> None:
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", unit.passphrase)
    monkeypatch.setenv("IBLAGH_SYNC_URL", mailbox.url)
    submission = mailbox.add_report({"v": 1, "category": "fraud"})

    assert main(["sync", "--officer", unit.username]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"stored {submission.id} (report, 1 blob)"
    assert lines[-1] == "synced: 1 new, 0 already stored, 1 acknowledged, 0 replies pushed"
