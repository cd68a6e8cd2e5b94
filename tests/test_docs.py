"""The documents describe what exists: every test and file docs/invariants.md names is real."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
# A later citation of the same file: `::test_name` alone.
SHORT = re.compile(r"`::(\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_the_invariants_cite_exists() -> None:
    text = (ROOT / "docs" / "invariants.md").read_text(encoding="utf-8")
    cited: list[tuple[str, str]] = []
    current = ""
    for match in re.finditer(rf"{CITED.pattern}|{SHORT.pattern}", text):
        if match.group(1):
            current = match.group(1)
            if match.group(2):
                cited.append((current, match.group(2)))
            else:
                cited.append((current, ""))
        else:
            cited.append((current, match.group(3)))
    assert len(cited) > 20
    missing = []
    for file, name in cited:
        path = ROOT / file
        if not path.exists() or (name and name not in _test_names(path)):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_the_twelve_invariants_are_all_there() -> None:
    text = (ROOT / "docs" / "invariants.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (\d+)\. ", text, re.MULTILINE) == [str(n) for n in range(1, 13)]


def test_no_code_cites_a_design_file_the_repository_does_not_hold() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("crypto", "source_app", "journalist_app", "tor", "tests", "docs", "bench")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".md", ".html", ".css", ".js"}
        and path != Path(__file__).resolve()
        and "DESIGN.md" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_the_quick_start_names_every_debian_package_make_installs() -> None:
    """Without root, `make` stops naming what is missing: the README lists it beforehand."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installed = set(re.findall(r'missing="\$\$missing ([\w.+-]+)"', makefile))
    assert {"gnupg", "tor", "python3-venv"} <= installed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme[readme.index("## Quick start") : readme.index("make run ")]
    command = re.search(r"apt-get install ([^`]+)```", quick_start, re.DOTALL)
    assert command is not None
    assert set(command.group(1).replace("\\", " ").split()) == installed
