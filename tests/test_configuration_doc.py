"""docs/configuration.md is the code's own list of variables, and it lists them all."""

import re
from pathlib import Path

from scripts.config_table import DEMO_VARIABLES, DOC, TEST_VARIABLES, render

ROOT = Path(__file__).resolve().parent.parent
# Where a variable can be read or set: the programs, their scripts, the bench, the tests.
SEARCHED = ("source_app", "journalist_app", "tor", "crypto", "scripts", "bench", "tests")
# A variable's name; not a prefix written before a star ("IBLAGH_TOR_*").
VARIABLE = re.compile(r"\bIBLAGH_[A-Z0-9_]*[A-Z0-9]\b(?![_*])")
# Python names that look like variables: tests/tor/test_tor_cli.py's path of iblagh-tor.
NOT_VARIABLES = {"IBLAGH_TOR"}


def test_the_configuration_doc_is_generated_from_the_settings_classes() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run .venv/bin/python -m scripts.config_table"
    )


def test_every_iblagh_variable_in_the_tree_is_in_the_doc() -> None:
    files = [ROOT / "Makefile"] + [
        path
        for folder in SEARCHED
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".sh", ".cfg", ".toml", ".ini", ".service"}
    ]
    named = {
        match.group(0)
        for path in files
        if path.is_file()
        for match in VARIABLE.finditer(path.read_text(encoding="utf-8", errors="replace"))
    }
    documented = set(re.findall(r"`(IBLAGH_[A-Z0-9_]+)`", render()))
    assert named - NOT_VARIABLES - documented == set()
    # The settings classes name their variables themselves; the hand-kept lists must not
    # outlive what they describe.
    listed = {row[0] for row in DEMO_VARIABLES} | {row[0] for row in TEST_VARIABLES}
    assert listed - named == set(), "the doc lists a variable nothing reads"
