"""The referral directory: data, checked whole, keys checked on import; the proposal rules."""

import csv

import pytest
from sqlalchemy import select

from journalist_app.errors import PermissionDenied
from journalist_app.models import AuditEntry
from journalist_app.referral.directory import (
    DirectoryError,
    current_directory,
    default_directory,
    parse_directory,
    propose,
)
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.partners import import_directory
from journalist_app.triage.territories import DATA_FILE
from tests.support.referral import directory_with_keys, partner_keys, with_key
from tests.support.triage import make_world

CATEGORIES = ("child_abuse", "sextortion", "incitement", "hate", "fraud", "threat_to_life", "other")


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


def _territories() -> list[dict[str, str]]:
    with DATA_FILE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_prefecture_and_province_of_every_region_gets_a_court_prosecutor_and_police(
    category,
) -> None:
    directory = default_directory()
    rows = _territories()
    assert len({row["region_code"] for row in rows}) == 12 and len(rows) == 75
    for row in rows:
        proposal = propose(directory, category, row["hcp_unit_code"])
        assert proposal.rule is not None and proposal.rule.id == "territorial", row
        assert proposal.court is not None, row["unit_name_fr"]
        assert proposal.prosecutor is not None and proposal.prosecutor.court == proposal.court.id
        assert proposal.police is not None and proposal.court.id in proposal.police.courts
        assert not proposal.missing


def test_known_links_of_the_reference_data() -> None:
    directory = default_directory()
    expected = {
        "04.421": ("pgr-rabat", "brpj-rabat"),  # Rabat
        "06.141": ("pgr-casablanca", "brpj-casablanca"),  # Casablanca
        "02.265": ("pgr-taza", "brpj-fes"),  # Guercif, moved to Taza by decree 2.23.665
        "09.551": ("pgr-agadir", "brpj-marrakech"),  # Tata
        "11.321": ("pgr-laayoune", "brpj-marrakech"),  # Laâyoune
    }
    for code, (prosecutor, police) in expected.items():
        proposal = propose(directory, "fraud", code)
        assert (proposal.prosecutor.id, proposal.police.id) == (prosecutor, police), code


def test_terrorism_goes_to_rabat_and_the_national_brigade_from_anywhere() -> None:
    directory = default_directory()
    for code in [row["hcp_unit_code"] for row in _territories()] + [None]:
        proposal = propose(directory, "terrorism", code)
        assert proposal.rule.id == "terrorism-central"
        assert proposal.prosecutor.id == "pgr-rabat-terrorism"
        assert proposal.police.id == "bnpj"
        assert not proposal.missing


def test_a_case_without_territory_gets_no_territorial_proposal() -> None:
    proposal = propose(default_directory(), "hate", None)
    assert proposal.police is None and proposal.prosecutor is None
    assert proposal.missing == "set the case's territory first"


def test_unverified_links_say_why() -> None:
    proposal = propose(default_directory(), "fraud", "12.391")  # Oued Ed-Dahab
    assert "Dakhla" in proposal.doubt


def test_rules_and_deadlines_are_data() -> None:
    text = default_directory().text.replace(
        'categories = ["terrorism"]\npolice = "bnpj"',
        'categories = ["terrorism", "hate"]\npolice = "bnpj"',
    )
    directory = parse_directory(text.encode())
    assert propose(directory, "hate", "04.421").police.id == "bnpj"
    assert directory.deadline("terrorism", "refer").total_seconds() == 6 * 3600
    assert directory.deadline("fraud", "acknowledge").total_seconds() == 72 * 3600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('police = "bnpj"', 'police = "nobody"'), "no police 'nobody'"),
        (("version = 1", "version = 2"), "version = 1"),
        (('"04.281", "04.481"', '"04.421", "04.481"'), "in two courts"),
        (('id = "ca-kenitra"', 'id = "ca-rabat"'), "used twice"),
        (("[deadlines.default]\nrefer = 120", "[deadlines.default]\nrefer = -1"), "hours"),
        (('gravity = "delit"', 'gravity = "grave"'), "gravity"),
    ],
)
def test_a_malformed_directory_is_refused_naming_the_problem(change, message) -> None:
    text = default_directory().text.replace(*change, 1)
    with pytest.raises(DirectoryError, match=message):
        parse_directory(text.encode())


def test_a_directory_with_good_keys_imports_and_is_audited(world) -> None:
    keys = partner_keys()
    result = import_directory(world.session, world.supervisor, directory_with_keys(keys).encode())
    assert result.without_key == 0 and result.with_key == len(result.directory.partners)
    assert current_directory(world.session).sha256 == result.directory.sha256
    entry = world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral.directory_imported")
    ).one()
    assert result.directory.sha256 in entry.details and keys.police.fingerprint in entry.details


@pytest.mark.parametrize(
    ("key_name", "fingerprint_of", "reason"),
    [
        ("expired", None, "has expired"),
        ("revoked", None, "is revoked"),
        ("police", "prosecutor", "not the one whose fingerprint"),
    ],
)
def test_a_bad_key_refuses_the_whole_directory(world, key_name, fingerprint_of, reason) -> None:
    keys = partner_keys()
    key = getattr(keys, key_name)
    fingerprint = getattr(keys, fingerprint_of).fingerprint if fingerprint_of else None
    text = with_key(default_directory().text, "pgr-fes", key, fingerprint)
    with pytest.raises(ReferralRefused, match=reason) as refused:
        import_directory(world.session, world.supervisor, text.encode())
    assert refused.value.code == "key_refused" and "pgr-fes" in str(refused.value)
    world.session.rollback()
    assert current_directory(world.session).sha256 == default_directory().sha256
    assert (
        world.session.scalars(select(AuditEntry).where(AuditEntry.action.like("referral.%"))).all()
        == []
    )


def test_only_a_role_that_manages_referrals_imports_a_directory(world) -> None:
    with pytest.raises(PermissionDenied):
        import_directory(world.session, world.analyst, default_directory().text.encode())
