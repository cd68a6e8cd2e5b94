"""Every decryption of a stored envelope goes through reports/sealed.py's open_sealed."""

import ast
from pathlib import Path

import journalist_app
from journalist_app.reports.sealed import Purpose

OPENERS = {"open_stream", "open_bytes", "open_to_path"}
APP = Path(journalist_app.__file__).parent


def _calls_an_opener(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in OPENERS:
                lines.append(node.lineno)
    return lines


def test_only_open_sealed_opens_envelopes_so_no_view_can_skip_the_check_or_the_audit() -> None:
    offenders = {
        str(path.relative_to(APP)): lines
        for path in APP.rglob("*.py")
        if path != APP / "reports" / "sealed.py" and (lines := _calls_an_opener(path))
    }
    assert offenders == {}, "decrypt through journalist_app.reports.sealed.open_sealed"
    assert _calls_an_opener(APP / "reports" / "sealed.py"), "the scan sees open_sealed's call"


def test_every_purpose_is_audited_or_names_the_audited_action_that_covers_it() -> None:
    for purpose in Purpose:
        rule = purpose.rule
        assert rule.action or rule.covered_by, purpose
        assert not (rule.action and rule.covered_by), purpose
    covering = {p.rule.covered_by for p in Purpose if p.rule.covered_by}
    assert covering <= {p.rule.action for p in Purpose}


def test_identity_sections_open_only_with_identity_keys_and_the_reveal_permission() -> None:
    for purpose in Purpose:
        opens_identity = "identity" in purpose.rule.kinds
        assert opens_identity == (purpose.rule.keys == "identity"), purpose
        assert opens_identity == (purpose.rule.permission.value == "identity.reveal"), purpose
