"""IBLAGH_CATEGORIES_FILE on the public host (docs/categories.md)."""

import copy
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from source_app import create_app
from source_app.categories import DEFAULT_CATEGORIES
from source_app.config import ConfigError, SourceConfig
from tests.conftest import ReporterActions, source_environ
from tests.support.categories import category, custom_set, write


@pytest.fixture
def custom_client(source_data_dir: Path, tmp_path: Path) -> FlaskClient:
    path = write(tmp_path / "categories.json", custom_set())
    environ = {**source_environ(source_data_dir), "IBLAGH_CATEGORIES_FILE": str(path)}
    return create_app(SourceConfig.from_env(environ)).test_client()


def _ids(html: str) -> list[str]:
    return re.findall(r'name="category" id="category-([a-z0-9_]+)"', html)


def test_without_the_variable_the_built_in_set_is_offered(client: FlaskClient) -> None:
    html = client.get("/report?lang=fr").get_data(as_text=True)
    assert _ids(html) == [c.id for c in DEFAULT_CATEGORIES]
    assert "Sale of protected animals" not in html


@pytest.mark.parametrize(
    ("lang", "label", "explanation"),
    [
        ("ar", "بيع الحيوانات المحمية (1)", "بيع أو تهريب الحيوانات المهددة بالانقراض."),
        ("fr", "Vente d&#39;animaux protégés (1)", "Vente ou trafic d&#39;espèces menacées."),
    ],
)
def test_a_custom_file_replaces_the_choices_in_each_language(
    custom_client: FlaskClient, lang: str, label: str, explanation: str
) -> None:
    html = custom_client.get(f"/report?lang={lang}").get_data(as_text=True)
    assert _ids(html) == ["wildlife", "fraud", "poaching_live"]
    assert label in html and explanation in html
    assert "category-terrorism" not in html


def test_the_form_accepts_only_the_configured_ids(custom_client: FlaskClient) -> None:
    reporter = ReporterActions(custom_client)
    assert reporter.report(category="wildlife", lang="fr")
    refused = custom_client.post("/report?lang=fr", data=reporter.report_form(category="terrorism"))
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["categories"][1]["languages"].pop("es"), 'category "fraud": the "es"'),
        (
            lambda d: d["categories"][0]["languages"]["ar"].pop("explanation"),
            '"ar" has no "explanation"',
        ),
        (lambda d: d["categories"].append(category("fraud", "low")), '"fraud" appears twice'),
        (lambda d: d["categories"][2].update(priority="critical"), '"priority" must be one of'),
        (lambda d: d["categories"][0].update(id="Wild Life"), '"id" must be'),
        (lambda d: d["categories"][0].update(id="followup"), "reserved"),
        (lambda d: d["categories"][0].update(priorty="low"), "unknown key 'priorty'"),
        (lambda d: d.update(categories=[]), 'non-empty "categories"'),
    ],
)
def test_a_malformed_file_stops_the_host_naming_the_mistake(
    source_data_dir: Path, tmp_path: Path, change, message: str
) -> None:
    data = copy.deepcopy(custom_set())
    change(data)
    path = write(tmp_path / "categories.json", data)
    environ = {**source_environ(source_data_dir), "IBLAGH_CATEGORIES_FILE": str(path)}
    with pytest.raises(ConfigError, match="IBLAGH_CATEGORIES_FILE") as refused:
        SourceConfig.from_env(environ)
    assert message in str(refused.value)


def test_a_file_that_is_not_json_stops_the_host(source_data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text("{not json", encoding="utf-8")
    environ = {**source_environ(source_data_dir), "IBLAGH_CATEGORIES_FILE": str(path)}
    with pytest.raises(ConfigError, match="JSON"):
        SourceConfig.from_env(environ)
