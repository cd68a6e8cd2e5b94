"""The one categories-file loader both hosts use (docs/categories.md)."""

import json
from pathlib import Path
from typing import Any

import pytest

from crypto.categories import CategorySpec, load_category_specs, parse_category_specs
from crypto.errors import CategoriesFileError
from tests.support.categories import category, custom_set


def test_a_file_becomes_neutral_specs_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps(custom_set(), ensure_ascii=False), encoding="utf-8")
    specs = load_category_specs(path)
    assert [spec.id for spec in specs] == ["wildlife", "fraud", "poaching_live"]
    assert [spec.priority_rank for spec in specs] == [4, 2, 1]
    assert [spec.urgent for spec in specs] == [False, False, True]
    assert specs[0].labels["en"] == "Sale of protected animals (1)"
    assert specs[0].explanations["fr"] == "Vente ou trafic d'espèces menacées."
    assert all(isinstance(spec, CategorySpec) for spec in specs)


def _without_spanish() -> dict[str, Any]:
    entry = category("fraud", "high")
    del entry["languages"]["es"]
    return {"categories": [entry]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], 'non-empty "categories" list'),
        ({"categories": []}, 'non-empty "categories" list'),
        ({"categories": ["x"]}, "category 1 is not an object"),
        ({"categories": [category("Bad-Id", "low")]}, '"id" must be 1 to 32'),
        ({"categories": [category("followup", "low")]}, "this id is reserved"),
        ({"categories": [category("a", "low"), category("a", "high")]}, "appears twice"),
        ({"categories": [category("a", "soon")]}, '"priority" must be one of urgent, high'),
        ({"categories": [category("a", "low") | {"priorty": "x"}]}, "unknown key 'priorty'"),
        ({"categories": [category("a", "low") | {"languages": []}]}, '"languages" must be'),
        (_without_spanish(), 'category "fraud": the "es" language is missing'),
    ],
)
def test_every_mistake_is_refused_with_a_message_naming_it(document: Any, message: str) -> None:
    with pytest.raises(CategoriesFileError, match=message):
        parse_category_specs(document)


def test_an_unreadable_file_is_refused_as_such(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_bytes(b"\xff not json")
    with pytest.raises(CategoriesFileError, match="UTF-8 JSON"):
        load_category_specs(path)
    with pytest.raises(CategoriesFileError, match="UTF-8 JSON"):
        load_category_specs(tmp_path / "missing.json")


def test_the_error_is_still_a_value_error_for_callers_that_catch_that() -> None:
    assert issubclass(CategoriesFileError, ValueError)
