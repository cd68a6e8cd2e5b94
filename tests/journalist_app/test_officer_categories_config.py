"""IBLAGH_CATEGORIES_FILE on the officer host (docs/categories.md): ranks and labels."""

import copy
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from journalist_app import create_app
from journalist_app.config import ConfigError, OfficerConfig
from journalist_app.models import Case, ReportTriage
from journalist_app.triage.categories import (
    CATEGORIES,
    active_categories,
    category_label,
    load_categories,
)
from journalist_app.triage.ingest import index_pending
from tests.support.categories import category, custom_set, write
from tests.support.triage import TriageWorld, log_in, make_world


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


def test_the_built_in_set_without_the_variable(tmp_path: Path) -> None:
    config = OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path)})
    assert config.categories is CATEGORIES
    assert active_categories() is CATEGORIES


def test_the_queue_ranks_and_labels_by_the_file(world: TriageWorld, tmp_path: Path) -> None:
    path = write(tmp_path / "categories.json", custom_set())
    config = dataclasses.replace(
        world.config,
        categories=OfficerConfig.from_env(
            {"IBLAGH_DATA_DIR": str(world.config.data_dir), "IBLAGH_CATEGORIES_FILE": str(path)}
        ).categories,
    )
    app = create_app(config)
    made = {
        name: world.add_report({"category": name})
        for name in ("wildlife", "terrorism", "fraud", "poaching_live")
    }
    with app.app_context():
        index_pending(world.session, world.store, world.supervisor)
    cases = {
        name: world.session.get(Case, world.session.get(ReportTriage, report).case_id)
        for name, report in made.items()
    }
    # urgent, high, normal (a retired id ranks as unknown), low
    assert {name: case.priority for name, case in cases.items()} == {
        "poaching_live": 1,
        "fraud": 2,
        "terrorism": 3,
        "wildlife": 4,
    }

    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    html = client.get("/cases?lang=fr").get_data(as_text=True)
    order = [html.index(f'href="/cases/{cases[name].id}"') for name in made]
    assert order[3] < order[2] < order[1] < order[0]
    assert "Vente d&#39;animaux protégés (3)" in html and "Vente d&#39;animaux protégés (2)" in html
    # A category the file no longer has is shown by its id.
    assert "<td>terrorism" in html
    assert '<option value="poaching_live"' in html and 'value="child_abuse"' not in html
    ar = client.get("/cases?lang=ar").get_data(as_text=True)
    assert "بيع الحيوانات المحمية (1)" in ar


def test_labels_follow_the_language_and_fall_back_to_the_id(tmp_path: Path) -> None:
    table = load_categories(write(tmp_path / "c.json", custom_set()))
    assert [c.priority for c in table] == [4, 2, 1]
    assert str(table[0].label) == "Vente d'animaux protégés (1)"  # no request: French
    assert category_label("no_such_category") == "no_such_category"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["categories"][0]["languages"].pop("fr"), 'the "fr" language is missing'),
        (lambda d: d["categories"].append(category("wildlife", "low")), "appears twice"),
        (lambda d: d["categories"][1].update(priority="medium"), '"priority" must be one of'),
    ],
)
def test_a_malformed_file_stops_the_host(tmp_path: Path, change, message: str) -> None:
    data = copy.deepcopy(custom_set())
    change(data)
    path = write(tmp_path / "categories.json", data)
    with pytest.raises(ConfigError, match="IBLAGH_CATEGORIES_FILE") as refused:
        OfficerConfig.from_env(
            {"IBLAGH_DATA_DIR": str(tmp_path), "IBLAGH_CATEGORIES_FILE": str(path)}
        )
    assert message in str(refused.value)
