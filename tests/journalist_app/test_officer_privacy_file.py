"""The data-protection file: generated from the models, and it declares every column."""

from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table

from journalist_app.cli.main import main
from journalist_app.models import Base
from journalist_app.privacy.document import declarations, undeclared_columns


def test_every_column_of_the_officer_database_is_declared() -> None:
    """Fails when a model gains a column journalist_app/data/privacy.toml does not declare:
    add it there as clear, sealed or technical, with what it holds."""
    assert undeclared_columns(Base.metadata, declarations()) == []


def test_a_new_clear_column_is_caught() -> None:
    grown = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(grown)
    Table("cases", grown, Column("suspect_name", String(200)), extend_existing=True)
    assert undeclared_columns(grown, declarations()) == ["cases.suspect_name"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(tmp_path / "officer"))
    monkeypatch.delenv("IBLAGH_DATABASE_URL", raising=False)
    return tmp_path / "out"


def test_the_command_writes_french_and_arabic(env, capsys) -> None:
    assert main(["privacy-file", "--out", str(env)]) == 0
    french = (env / "privacy-fr.md").read_text(encoding="utf-8")
    arabic = (env / "privacy-ar.md").read_text(encoding="utf-8")
    assert "Responsable du traitement" in french and "المسؤول عن المعالجة" in arabic
    clear = declarations()["tables"]["report_urls"]["clear"]
    for document in (french, arabic):
        assert "`report_urls`" in document and all(f"`{c}`" in document for c in clear)
        assert "`closed:duplicate`" in document and "`category:child_abuse`" in document
        assert "`envelope`" in document
