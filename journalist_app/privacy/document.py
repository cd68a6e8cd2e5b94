"""The description a data-protection authority asks for, generated from the code.

The tables and columns come from the SQLAlchemy metadata, their meaning and class
(clear, sealed, technical) from journalist_app/data/privacy.toml, the retention rules
from journalist_app/data/retention.toml and the security settings from the officer
configuration. A column the declarations do not name is an error
(:func:`undeclared_columns`): the file cannot silently miss a field kept in the clear.
"""

import functools
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import MetaData

from journalist_app.config import OfficerConfig
from journalist_app.models import Base
from journalist_app.retention.rules import RetentionRules

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "privacy.toml"
LANGUAGES = ("fr", "ar")
CLASSES = ("clear", "sealed", "technical")


class UndeclaredColumns(ValueError):
    """Columns of the database that privacy.toml does not declare."""


@functools.cache
def declarations(path: Path = DATA_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def undeclared_columns(metadata: MetaData, declared: Mapping[str, Any]) -> list[str]:
    """``table.column`` of every column not declared as clear, sealed or technical."""
    tables = declared.get("tables", {})
    missing = []
    for table in metadata.sorted_tables:
        entry = tables.get(table.name, {})
        named = {column for cls in CLASSES for column in entry.get(cls, [])}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in named]
    return missing


def build(
    language: str,
    config: OfficerConfig,
    rules: RetentionRules,
    now: datetime,
    metadata: MetaData = Base.metadata,
    declared: Mapping[str, Any] | None = None,
) -> str:
    """The file in ``language`` (fr or ar), as Markdown. Raises :class:`UndeclaredColumns`."""
    declared = declared if declared is not None else declarations()
    missing = undeclared_columns(metadata, declared)
    if missing:
        raise UndeclaredColumns(
            "journalist_app/data/privacy.toml does not declare: " + ", ".join(missing)
        )
    h = SimpleNamespace(**declared["headings"][language])
    tables = declared["tables"]
    lines = [f"# {h.title}", "", h.generated.format(date=now.strftime("%Y-%m-%d")), ""]

    def text(entry: Mapping[str, str]) -> str:
        return entry[language]

    lines += [f"## {h.controller}", "", text(declared["controller"]), ""]
    lines += [f"## {h.legal_basis}", "", text(declared["legal_basis"]), ""]
    for heading, key in ((h.purposes, "purposes"), (h.people, "people")):
        lines += [f"## {heading}", ""] + [f"- {text(item)}" for item in declared[key]] + [""]

    lines += [f"## {h.sealed}", "", h.sealed_intro, ""]
    lines += [f"- {text(item)}" for item in declared["sealed_fields"]] + [""]
    lines += [
        f"### {h.sealed_columns}",
        "",
        *_column_table(h, metadata, tables, "sealed", language),
    ]

    lines += [f"## {h.clear}", "", h.clear_intro, ""]
    lines += _column_table(h, metadata, tables, "clear", language)
    lines += [f"### {h.technical}", "", *_column_table(h, metadata, tables, "technical", language)]

    lines += [f"## {h.recipients}", ""] + [f"- {text(r)}" for r in declared["recipients"]] + [""]

    lines += [f"## {h.retention}", "", h.retention_intro, ""]
    for outcome, days in sorted(rules.outcome_days.items()):
        lines.append(f"- `{outcome}`: {h.days.format(days=days)}")
    for category, days in sorted(rules.category_days.items()):
        lines.append(f"- `category:{category}`: {h.days.format(days=days)}")
    for category in sorted(rules.held_categories):
        lines.append(f"- `category:{category}`: {h.held}")
    lines += ["", h.public_host, ""]

    lines += [f"## {h.security}", ""] + [f"- {text(s)}" for s in declared["security"]] + [""]
    lines += [f"### {h.settings}", ""]
    lines += [f"- `{name}`: `{value}`" for name, value in _settings(config)] + [""]
    return "\n".join(lines)


def _column_table(
    h: SimpleNamespace, metadata: MetaData, tables: Mapping[str, Any], cls: str, language: str
) -> list[str]:
    rows = [f"| {h.table} | | {h.columns} |", "|---|---|---|"]
    for table in metadata.sorted_tables:
        entry = tables.get(table.name, {})
        columns = [c.name for c in table.columns if c.name in entry.get(cls, [])]
        if columns:
            listed = ", ".join(f"`{c}`" for c in columns)
            rows.append(f"| `{table.name}` | {entry.get(language, '')} | {listed} |")
    return [*rows, ""]


def _settings(config: OfficerConfig) -> list[tuple[str, str]]:
    engine = config.database_url.split(":", 1)[0].split("+", 1)[0]
    return [
        ("database", engine),
        ("session_minutes", str(config.session_minutes)),
        ("session_max_minutes", str(config.session_max_minutes)),
        ("passphrase_kdf", f"argon2id {config.wrap_params}"),
    ]
