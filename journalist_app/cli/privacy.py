"""``iblagh-officer privacy-file``: the data-protection file, generated from the code.

Writes ``privacy-fr.md`` and ``privacy-ar.md`` (journalist_app/privacy/document.py).
It reads the schema and the configuration only: no key, no login, nothing decrypted.
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from journalist_app.cli.common import CliHelpers
from journalist_app.clock import utc_now
from journalist_app.config import OfficerConfig
from journalist_app.privacy.document import LANGUAGES, build
from journalist_app.retention.rules import load_rules


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``privacy-file`` to the ``iblagh-officer`` parser."""
    command = commands.add_parser(
        "privacy-file", help="write the data-protection file (French and Arabic Markdown)"
    )
    command.add_argument("--out", type=Path, required=True, help="folder to write into")
    command.set_defaults(handler=privacy_file)


def privacy_file(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    now = utc_now()
    for language in LANGUAGES:
        path = args.out / f"privacy-{language}.md"
        path.write_text(build(language, config, load_rules(), now), encoding="utf-8")
        out.write(f"wrote {path}\n")
    return 0
