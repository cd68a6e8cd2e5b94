"""The referral directory: partners, their keys, the competence rules, the deadlines.

It is data (journalist_app/data/referral_directory.toml, docs/referral.md): the unit
edits the file and imports it; the newest import is in force, the shipped default until
then. :func:`parse_directory` refuses a malformed file whole, naming what is wrong;
keys are checked by referral/openpgp.py on import and again before every use.

:func:`propose` reads the rules in order: the first whose categories hold the case's
category names the police unit and the prosecutor, either by id or ``by-territory``
(the court of appeal whose territories hold the case's territory, its prosecutor, and
the police entry whose courts include that court). Nothing about a country is in code.
"""

import functools
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app.errors import OfficerError
from journalist_app.models.referral import ReferralDirectory

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "referral_directory.toml"
BY_TERRITORY = "by-territory"
ANY_CATEGORY = "*"
STEPS = ("refer", "acknowledge")
GRAVITIES = ("crime", "delit")
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024


class DirectoryError(OfficerError):
    """The directory file is malformed, or names something it does not define."""


@dataclass(frozen=True)
class Partner:
    """A receiving institution: a judicial police unit or a prosecutor."""

    id: str
    kind: str  # "police" or "prosecutor"
    name_fr: str
    name_ar: str
    languages: tuple[str, ...]
    contact: str
    fingerprint: str
    key: str
    confidence: str
    source: str
    courts: tuple[str, ...] = ()
    court: str = ""

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr

    @property
    def has_key(self) -> bool:
        return bool(self.key.strip())


@dataclass(frozen=True)
class Court:
    id: str
    name_fr: str
    name_ar: str
    territories: tuple[str, ...]
    confidence: str
    unverified: Mapping[str, str]

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr


@dataclass(frozen=True)
class Rule:
    id: str
    categories: tuple[str, ...]
    police: str
    prosecutor: str
    basis_fr: str
    basis_ar: str
    confidence: str

    def applies_to(self, category: str | None) -> bool:
        return ANY_CATEGORY in self.categories or (category or "") in self.categories

    def basis(self, language: str) -> str:
        return self.basis_ar if language == "ar" else self.basis_fr


@dataclass(frozen=True)
class Qualification:
    id: str
    categories: tuple[str, ...]
    gravity: str
    label_fr: str
    label_ar: str

    def label(self, language: str) -> str:
        return self.label_ar if language == "ar" else self.label_fr

    def fits(self, category: str | None) -> bool:
        return ANY_CATEGORY in self.categories or (category or "") in self.categories


@dataclass(frozen=True)
class UnitIdentity:
    name_fr: str
    name_ar: str
    signing_role_fr: str
    signing_role_ar: str
    key_email: str

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr

    def signing_role(self, language: str) -> str:
        return self.signing_role_ar if language == "ar" else self.signing_role_fr


@dataclass(frozen=True)
class Directory:
    sha256: str
    country: str
    unit: UnitIdentity
    courts: dict[str, Court]
    partners: dict[str, Partner]
    rules: tuple[Rule, ...]
    qualifications: dict[str, Qualification]
    deadlines: dict[str, dict[str, int]]
    text: str = field(repr=False, default="")

    def partner(self, partner_id: str, kind: str) -> Partner:
        found = self.partners.get(partner_id)
        if found is None or found.kind != kind:
            raise DirectoryError(f"the directory has no {kind} {partner_id!r}")
        return found

    def of_kind(self, kind: str) -> list[Partner]:
        return [p for p in self.partners.values() if p.kind == kind]

    def court_of(self, territory: str | None) -> Court | None:
        return next((c for c in self.courts.values() if territory in c.territories), None)

    def deadline(self, category: str | None, step: str) -> timedelta:
        """The time allowed for ``step`` (refer, acknowledge) in ``category``."""
        hours = self.deadlines.get(category or "", {}).get(step)
        if hours is None:
            hours = self.deadlines["default"][step]
        return timedelta(hours=hours)

    def qualifications_for(self, category: str | None) -> list[Qualification]:
        return [q for q in self.qualifications.values() if q.fits(category)]


@dataclass(frozen=True)
class Proposal:
    """Who the rules say is competent, and why; ``missing`` explains a gap."""

    rule: Rule | None
    police: Partner | None
    prosecutor: Partner | None
    court: Court | None
    missing: str = ""
    # The territory's link to its court is flagged unverified in the data: show why.
    doubt: str = ""


def propose(directory: Directory, category: str | None, territory: str | None) -> Proposal:
    """The competent police unit and prosecutor for a case, from the rules in order."""
    rule = next((r for r in directory.rules if r.applies_to(category)), None)
    if rule is None:
        return Proposal(None, None, None, None, missing="no rule applies to this category")
    court = directory.court_of(territory) if territory else None
    needs_territory = BY_TERRITORY in (rule.police, rule.prosecutor)
    if needs_territory and court is None:
        missing = "set the case's territory first" if not territory else "territory not mapped"
    else:
        missing = ""
    police = _pick(directory, "police", rule.police, court)
    prosecutor = _pick(directory, "prosecutor", rule.prosecutor, court)
    doubt = court.unverified.get(territory or "", "") if court is not None else ""
    return Proposal(rule, police, prosecutor, court, missing=missing, doubt=doubt)


def _pick(directory: Directory, kind: str, wanted: str, court: Court | None) -> Partner | None:
    if wanted != BY_TERRITORY:
        return directory.partner(wanted, kind)
    if court is None:
        return None
    if kind == "prosecutor":
        return next((p for p in directory.of_kind(kind) if p.court == court.id), None)
    return next((p for p in directory.of_kind(kind) if court.id in p.courts), None)


# --- reading the file ------------------------------------------------------------------


def parse_directory(raw: bytes) -> Directory:
    """Read and check a directory file whole; :class:`DirectoryError` names the problem."""
    if len(raw) > MAX_DIRECTORY_BYTES:
        raise DirectoryError("the directory file is larger than 4 MiB")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DirectoryError(f"the directory file is not valid UTF-8 TOML: {exc}") from exc
    if data.get("version") != 1:
        raise DirectoryError("the directory file must say version = 1")
    courts = _unique([_court(item) for item in _tables(data, "court")], "court")
    partners: dict[str, Partner] = {}
    for kind in ("police", "prosecutor"):
        for item in _tables(data, kind):
            partner = _partner(kind, item)
            if partner.id in partners:
                raise DirectoryError(f"the id {partner.id!r} is used twice")
            partners[partner.id] = partner
    rules = tuple(_rule(item) for item in _tables(data, "rule"))
    qualifications = _unique(
        [_qualification(item) for item in _tables(data, "qualification")], "qualification"
    )
    directory = Directory(
        sha256=hashlib.sha256(raw).hexdigest(),
        country=str(data.get("country", "")),
        unit=_unit(data.get("unit")),
        courts=courts,
        partners=partners,
        rules=rules,
        qualifications=qualifications,
        deadlines=_deadlines(data.get("deadlines")),
        text=text,
    )
    _check_references(directory)
    return directory


def _unique(items: list[Any], name: str) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for item in items:
        if item.id in table:
            raise DirectoryError(f"the {name} id {item.id!r} is used twice")
        table[item.id] = item
    return table


def _tables(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = data.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DirectoryError(f"[[{name}]] must be a list of tables")
    return items


def _text(item: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise DirectoryError(f"{where}: {key} must be a non-empty text")
    return value.strip()


def _texts(item: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DirectoryError(f"{where}: {key} must be a list of texts")
    return tuple(value)


def _court(item: Mapping[str, Any]) -> Court:
    where = f"[[court]] {item.get('id', '?')}"
    unverified = item.get("unverified", {})
    if not isinstance(unverified, dict):
        raise DirectoryError(f"{where}: unverified must be a table")
    return Court(
        id=_text(item, "id", where),
        name_fr=_text(item, "name_fr", where),
        name_ar=_text(item, "name_ar", where),
        territories=_texts(item, "territories", where),
        confidence=_text(item, "confidence", where, ""),
        unverified={str(k): str(v) for k, v in unverified.items()},
    )


def _partner(kind: str, item: Mapping[str, Any]) -> Partner:
    where = f"[[{kind}]] {item.get('id', '?')}"
    fingerprint = _text(item, "fingerprint", where, "").replace(" ", "").upper()
    key = _text(item, "key", where, "")
    if bool(fingerprint) != bool(key):
        raise DirectoryError(f"{where}: give both the fingerprint and the key, or neither")
    if fingerprint and (len(fingerprint) not in (40, 64) or not _is_hex(fingerprint)):
        raise DirectoryError(f"{where}: the fingerprint must be 40 hexadecimal digits")
    return Partner(
        id=_text(item, "id", where),
        kind=kind,
        name_fr=_text(item, "name_fr", where),
        name_ar=_text(item, "name_ar", where),
        languages=_texts(item, "languages", where) or ("fr",),
        contact=_text(item, "contact", where, ""),
        fingerprint=fingerprint,
        key=key,
        confidence=_text(item, "confidence", where, ""),
        source=_text(item, "source", where, ""),
        courts=_texts(item, "courts", where) if kind == "police" else (),
        court=_text(item, "court", where, "") if kind == "prosecutor" else "",
    )


def _rule(item: Mapping[str, Any]) -> Rule:
    where = f"[[rule]] {item.get('id', '?')}"
    categories = _texts(item, "categories", where)
    if not categories:
        raise DirectoryError(f"{where}: categories must name at least one category or '*'")
    return Rule(
        id=_text(item, "id", where),
        categories=categories,
        police=_text(item, "police", where),
        prosecutor=_text(item, "prosecutor", where),
        basis_fr=_text(item, "basis_fr", where),
        basis_ar=_text(item, "basis_ar", where),
        confidence=_text(item, "confidence", where, ""),
    )


def _qualification(item: Mapping[str, Any]) -> Qualification:
    where = f"[[qualification]] {item.get('id', '?')}"
    gravity = _text(item, "gravity", where)
    if gravity not in GRAVITIES:
        raise DirectoryError(f"{where}: gravity must be one of {', '.join(GRAVITIES)}")
    return Qualification(
        id=_text(item, "id", where),
        categories=_texts(item, "categories", where) or (ANY_CATEGORY,),
        gravity=gravity,
        label_fr=_text(item, "label_fr", where),
        label_ar=_text(item, "label_ar", where),
    )


def _unit(item: object) -> UnitIdentity:
    if not isinstance(item, dict):
        raise DirectoryError("the [unit] table is missing")
    return UnitIdentity(
        name_fr=_text(item, "name_fr", "[unit]"),
        name_ar=_text(item, "name_ar", "[unit]"),
        signing_role_fr=_text(item, "signing_role_fr", "[unit]"),
        signing_role_ar=_text(item, "signing_role_ar", "[unit]"),
        key_email=_text(item, "key_email", "[unit]"),
    )


def _deadlines(item: object) -> dict[str, dict[str, int]]:
    if not isinstance(item, dict) or not isinstance(item.get("default"), dict):
        raise DirectoryError("[deadlines.default] with refer and acknowledge is required")
    table: dict[str, dict[str, int]] = {}
    for category, steps in item.items():
        if not isinstance(steps, dict):
            raise DirectoryError(f"[deadlines.{category}] must be a table")
        for step, hours in steps.items():
            if step not in STEPS or not isinstance(hours, int) or not 0 < hours <= 24 * 365:
                raise DirectoryError(
                    f"[deadlines.{category}] {step}: steps are {', '.join(STEPS)}, "
                    "each a number of hours from 1 to 8760"
                )
        table[str(category)] = {str(k): int(v) for k, v in steps.items()}
    if set(table["default"]) != set(STEPS):
        raise DirectoryError("[deadlines.default] must give both refer and acknowledge")
    return table


def _check_references(directory: Directory) -> None:
    seen: dict[str, str] = {}
    for court in directory.courts.values():
        for code in court.territories:
            if code in seen:
                raise DirectoryError(f"territory {code} is in two courts: {seen[code]}, {court.id}")
            seen[code] = court.id
    for partner in directory.partners.values():
        for court_id in (*partner.courts, partner.court):
            if court_id and court_id not in directory.courts:
                raise DirectoryError(f"{partner.id} names the unknown court {court_id!r}")
    if not directory.rules:
        raise DirectoryError("the directory has no [[rule]]")
    for rule in directory.rules:
        for kind, wanted in (("police", rule.police), ("prosecutor", rule.prosecutor)):
            if wanted != BY_TERRITORY:
                directory.partner(wanted, kind)
    if not directory.qualifications:
        raise DirectoryError("the directory has no [[qualification]]")


def _is_hex(value: str) -> bool:
    return all(c in "0123456789ABCDEF" for c in value)


# --- the directory in force ------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _parsed(raw: bytes) -> Directory:
    return parse_directory(raw)


def default_directory() -> Directory:
    return _parsed(DEFAULT_FILE.read_bytes())


def current_directory(session: Session) -> Directory:
    """The newest imported directory, or the shipped default."""
    latest = session.scalars(
        select(ReferralDirectory).order_by(ReferralDirectory.id.desc()).limit(1)
    ).first()
    if latest is None:
        return default_directory()
    return _parsed(latest.content.encode("utf-8"))


def directory_by_hash(session: Session, sha256: str) -> Directory | None:
    """The directory a referral was built with (for its page and custody)."""
    row = session.scalars(
        select(ReferralDirectory).where(ReferralDirectory.sha256 == sha256).limit(1)
    ).first()
    if row is not None:
        return _parsed(row.content.encode("utf-8"))
    default = default_directory()
    return default if default.sha256 == sha256 else None
