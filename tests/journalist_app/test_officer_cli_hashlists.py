"""``iblagh-officer hashlist import|list``: whole lists or nothing, through the CLI."""

import json
from pathlib import Path

from sqlalchemy import func, select

from journalist_app.cli.main import main
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from journalist_app.models import AuditEntry, HashList, HashListEntry
from tests.journalist_app.test_officer_cli import env  # noqa: F401 (fixture)


def _counts(data_dir: Path) -> tuple[int, int, list[str]]:
    config = OfficerConfig.from_env(
        {"IBLAGH_DATA_DIR": str(data_dir), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}
    )
    engine = make_engine(config.database_url)
    with make_session_factory(engine)() as session:
        lists = session.scalar(select(func.count()).select_from(HashList)) or 0
        entries = session.scalar(select(func.count()).select_from(HashListEntry)) or 0
        actions = list(session.scalars(select(AuditEntry.action)))
    engine.dispose()
    return lists, entries, actions


def test_a_list_is_imported_whole_and_a_malformed_one_not_at_all(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys,
) -> None:
    assert main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "pub")]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("sha256,label,source\n" + "a" * 64 + ",known,hotline\nnot-a-hash,x,y\n")

    assert main(["hashlist", "import", "--officer", "alice", str(bad)]) == 1

    out = capsys.readouterr().out
    assert "nothing imported" in out and "line 3" in out
    assert _counts(env)[:2] == (0, 0)

    good = tmp_path / "series.json"
    good.write_text(
        json.dumps(
            {"entries": [{"md5": "b" * 32, "label": "series 4"}, {"pdq": "c" * 64, "label": "s"}]}
        )
    )
    assert main(["hashlist", "import", "--officer", "alice", str(good)]) == 0
    assert "2 entries" in capsys.readouterr().out
    lists, entries, actions = _counts(env)
    assert (lists, entries) == (1, 2) and "hashlist.imported" in actions
    assert main(["hashlist", "list", "--officer", "alice"]) == 0
    assert "series.json" in capsys.readouterr().out
    assert (
        main(["hashlist", "import", "--officer", "alice", "--max-distance", "300", str(good)]) == 2
    )


def test_a_signed_list_is_checked_before_anything_is_imported(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys,
) -> None:
    from nacl.signing import SigningKey

    from crypto.detached import sign_file
    from crypto.encoding import b64encode

    assert main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "pub")]) == 0
    publisher = SigningKey.generate()
    key = b64encode(bytes(publisher.verify_key))
    listed = tmp_path / "partner.csv"
    listed.write_bytes(b"md5,label\n" + b"d" * 32 + b",partner series\n")
    signature = tmp_path / "partner.csv.sig"
    signature.write_text(sign_file(listed.read_bytes(), publisher))
    forged = tmp_path / "forged.csv"
    forged.write_bytes(listed.read_bytes() + b"e" * 32 + b",added\n")
    capsys.readouterr()

    command = ["hashlist", "import", "--officer", "alice", "--signature", str(signature)]
    assert main([*command, "--signer-key", key, str(forged)]) == 1
    assert "signature does not match" in capsys.readouterr().out
    assert _counts(env)[:2] == (0, 0)
    assert main([*command, str(listed)]) == 2, "a signature needs the publisher's key"
    assert main([*command, "--signer-key", key, str(listed)]) == 0
    assert _counts(env)[:2] == (1, 1)
