"""The documents inside envelopes: round trips, and typed refusals of anything else."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.contents import (
    CLOSE_REASONS,
    STATUSES,
    AttachmentRecord,
    ContentError,
    IdentitySection,
    ReplyContent,
    ReportBody,
    encode_reporter_key,
)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@given(
    category=text.filter(bool),
    urls=st.lists(text, max_size=5),
    description=text,
    language=st.sampled_from(["ar", "fr", "en", "es"]),
)
def test_report_body_round_trips(
    category: str, urls: list[str], description: str, language: str
) -> None:
    body = ReportBody(category, tuple(urls), description, language)
    assert ReportBody.from_json(body.to_json()) == body


@given(name=text)
def test_identity_round_trips(name: str) -> None:
    assert IdentitySection.from_json(IdentitySection(name).to_json()).full_name == name


@given(
    status=st.one_of(st.none(), st.sampled_from(STATUSES)),
    reason=st.one_of(st.none(), st.sampled_from(CLOSE_REASONS)),
    message=st.one_of(st.none(), text.filter(str.strip)),
)
def test_reply_round_trips_or_is_refused_when_empty(
    status: str | None, reason: str | None, message: str | None
) -> None:
    reply = ReplyContent("2026-11-28T18:00:00Z", status, reason, message)
    if status is None and reason is None and not message:
        with pytest.raises(ContentError):
            reply.to_json()
    else:
        assert ReplyContent.from_json(reply.to_json()) == reply


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"category": "x"}',
        b'{"v": true, "category": "x"}',
        b'{"v": 1, "category": ""}',
        b'{"v": 1, "category": 5}',
        b'{"v": 1, "category": "x", "urls": "https://a"}',
        b'{"v": 1, "category": "x", "urls": [1]}',
        b'{"v": 1, "category": "x", "description": null}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_report_bodies_are_refused_with_a_typed_error(raw: bytes) -> None:
    with pytest.raises(ContentError):
        ReportBody.from_json(raw)


@pytest.mark.parametrize(
    "document",
    [
        {"v": 1, "sent_at": "x", "status": "hacked"},
        {"v": 1, "sent_at": "x", "reason": "because"},
        {"v": 1, "sent_at": "x", "message": 42},
        {"v": 1, "sent_at": "x"},
        {"v": 1, "sent_at": "x", "message": "m" * 20_001},
    ],
)
def test_replies_a_page_could_not_show_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(ContentError):
        ReplyContent.from_json(json.dumps(document).encode())


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = b'{"v": 1, "category": "fraud", "urls": [], "new": {"x": 1}}'
    assert ReportBody.from_json(raw).category == "fraud"


@given(
    platform=text,
    account=text,
    seen_on=st.sampled_from(["", "2026-11-27"]),
    good_faith=st.booleans(),
    sizes=st.lists(st.integers(min_value=0, max_value=2**40), max_size=3),
    name=text,
)
def test_report_body_round_trips_with_its_later_fields(
    platform: str, account: str, seen_on: str, good_faith: bool, sizes: list[int], name: str
) -> None:
    records = tuple(
        AttachmentRecord(f"attachment-{i}", name, "image/png", size, "ab" * 32)
        for i, size in enumerate(sizes, start=1)
    )
    body = ReportBody(
        "fraud", ("https://a.example/",), "d", "ar", platform, account, seen_on, good_faith, records
    )
    assert ReportBody.from_json(body.to_json()) == body


def test_a_body_written_before_the_later_fields_reads_with_defaults() -> None:
    raw = b'{"v": 1, "category": "terrorism", "urls": ["https://x"], "description": "d"}'
    body = ReportBody.from_json(raw)
    assert (body.platform, body.account, body.seen_on) == ("", "", "")
    assert body.good_faith is False and body.attachments == ()


@pytest.mark.parametrize(
    "extra",
    [
        {"good_faith": "yes"},
        {"attachments": {}},
        {"attachments": ["attachment-1"]},
        {"attachments": [{"blob": "attachment-1", "size": -1}]},
        {"attachments": [{"blob": "attachment-1", "size": True}]},
        {"attachments": [{"size": 3}]},
        {"platform": 3},
        {"seen_on": None},
    ],
)
def test_later_fields_of_the_wrong_type_are_refused(extra: dict[str, object]) -> None:
    document = {"v": 1, "category": "fraud", **extra}
    with pytest.raises(ContentError):
        ReportBody.from_json(json.dumps(document).encode())


def test_identity_details_round_trip_and_old_sections_still_read() -> None:
    identity = IdentitySection("Amina", "AB123456", "+212612345678", "a@b.ma", "Fès")
    assert IdentitySection.from_json(identity.to_json()) == identity
    old = IdentitySection.from_json(b'{"v": 1, "full_name": "Amina"}')
    assert (old.full_name, old.phone, old.city) == ("Amina", "", "")
    assert "Amina" not in repr(identity) and "+212" not in repr(identity)
    with pytest.raises(ContentError):
        IdentitySection.from_json(b'{"v": 1, "phone": 612345678}')


def test_the_reporter_public_key_round_trips_and_old_bodies_have_none() -> None:
    key = bytes(range(32))
    body = ReportBody("fraud", (), "d", "ar", reporter_public_key=encode_reporter_key(key))
    document = json.loads(body.to_json())
    assert document["reporter_public_key"] == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    read = ReportBody.from_json(body.to_json())
    assert read == body and read.reporter_key() == key
    old = ReportBody.from_json(b'{"v": 1, "category": "fraud"}')
    assert old.reporter_public_key == "" and old.reporter_key() is None
    assert "reporter_public_key" not in json.loads(old.to_json())


@pytest.mark.parametrize(
    "value",
    [3, None, "not base64!", "AAEC", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", "é"],
)
def test_a_bad_reporter_public_key_is_refused(value: object) -> None:
    document = {"v": 1, "category": "fraud", "reporter_public_key": value}
    with pytest.raises(ContentError):
        ReportBody.from_json(json.dumps(document).encode())
    if isinstance(value, str):
        with pytest.raises(ContentError):
            ReportBody("fraud", (), "d", "ar", reporter_public_key=value)
