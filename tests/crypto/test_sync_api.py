"""The sync API contract (crypto/sync_api.py): the listing vectors and its properties.

The same vectors run against the real public host (tests/source_app/
test_sync_listing_vectors.py) and the tests' fake host (tests/journalist_app/
test_officer_sync_listing_vectors.py): builder, fake and parser agree on one file.
"""

import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import CryptoError, SyncListingError
from crypto.sync_api import (
    KINDS,
    MAX_ATTACHMENTS,
    MAX_BLOBS_PER_SUBMISSION,
    MAX_JSON_BYTES,
    MAX_LIST,
    ListedBlob,
    ListedSubmission,
    RefusedItem,
    blob_path,
    build_listing,
    is_blob_name,
    listing_item,
    parse_id_list,
    parse_listing,
    parse_submission,
    reply_path,
    submissions_path,
)

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "sync_listing_v1.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def _ids(section: str) -> list[str]:
    return [vector["description"] for vector in VECTORS[section]]


def test_the_vectors_cover_every_reason_and_the_ceiling() -> None:
    for section in ("accepted", "refused", "documents"):
        assert len(set(_ids(section))) == len(VECTORS[section]), section
    reasons = {vector["reason"] for vector in VECTORS["refused"]}
    assert reasons >= {
        "not_an_object",
        "bad_id",
        "missing_field",
        "bad_kind",
        "bad_reporter_id",
        "bad_reporter_key",
        "bad_received_hour",
        "bad_blobs",
        "bad_blob",
        "bad_blob_name",
        "too_many_attachments",
        "too_many_blobs",
        "duplicate_blob",
        "no_body",
        "bad_blob_size",
        "bad_blob_sha256",
    }
    most = max(parse_submission(v["item"]).attachment_count for v in VECTORS["accepted"])
    assert most == MAX_ATTACHMENTS


@pytest.mark.parametrize("vector", VECTORS["accepted"], ids=_ids("accepted"))
def test_accepted_vector(vector: dict[str, Any]) -> None:
    submission = parse_submission(vector["item"])
    assert submission.id == vector["item"]["id"]
    assert set(vector["contents"]) == {blob.name for blob in submission.blobs}
    written = listing_item(submission)
    written["blobs"].sort(key=lambda blob: blob["name"])
    assert written == vector["canonical"]
    # What a writer produces reads back as the same submission.
    assert parse_submission(vector["canonical"]) == _sorted(submission)


@pytest.mark.parametrize("vector", VECTORS["refused"], ids=_ids("refused"))
def test_refused_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(SyncListingError) as raised:
        parse_submission(vector["item"])
    assert raised.value.reason == vector["reason"]
    assert raised.value.submission_id == vector["submission_id"]


@pytest.mark.parametrize("vector", VECTORS["documents"], ids=_ids("documents"))
def test_document_vector(vector: dict[str, Any]) -> None:
    if "reason" in vector:
        with pytest.raises(SyncListingError) as raised:
            parse_listing(vector["document"], vector["limit"])
        assert raised.value.reason == vector["reason"]
        return
    listing = parse_listing(vector["document"], vector["limit"])
    got: list[dict[str, Any]] = [
        {"refused": entry.submission_id, "reason": entry.reason}
        if isinstance(entry, RefusedItem)
        else {"accepted": entry.id}
        for entry in listing.entries
    ]
    assert got == vector["items"]


def _sorted(submission: ListedSubmission) -> ListedSubmission:
    blobs = tuple(sorted(submission.blobs, key=lambda blob: blob.name))
    return ListedSubmission(
        submission.id,
        submission.kind,
        submission.reporter_id,
        submission.reporter_public_key,
        submission.received_hour,
        blobs,
    )


# --- paths and grammar -----------------------------------------------------------------


def test_paths_are_built_from_checked_ids_and_names_only() -> None:
    sid = "0123456789abcdef" * 2
    assert submissions_path() == "/sync/v1/submissions?limit=100"
    assert submissions_path(5, after=sid) == f"/sync/v1/submissions?limit=5&after={sid}"
    assert blob_path(sid, "attachment-100") == f"/sync/v1/submissions/{sid}/blobs/attachment-100"
    assert reply_path(sid, "f" * 32) == f"/sync/v1/reporters/{sid}/replies/{'f' * 32}"
    for bad in (
        lambda: submissions_path(0),
        lambda: submissions_path(MAX_LIST + 1),
        lambda: submissions_path(5, after="../x"),
        lambda: blob_path(sid, "attachment-101"),
        lambda: blob_path(sid.upper(), "body"),
        lambda: reply_path(sid, "x"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_blob_names_run_from_one_to_the_ceiling() -> None:
    assert all(is_blob_name(f"attachment-{n}") for n in range(1, MAX_ATTACHMENTS + 1))
    for name in ("attachment-0", "attachment-01", f"attachment-{MAX_ATTACHMENTS + 1}", "Body"):
        assert not is_blob_name(name)
    assert is_blob_name("body") and is_blob_name("identity")


def test_id_lists_are_checked() -> None:
    assert parse_id_list(["a" * 32]) == ["a" * 32]
    for bad in (None, "a" * 32, ["A" * 32], ["a" * 32] * 501, [1]):
        with pytest.raises(SyncListingError):
            parse_id_list(bad)


def test_the_largest_listing_fits_in_the_largest_answer_a_reader_takes() -> None:
    blobs = tuple(
        ListedBlob(name, 2**40, "f" * 64)
        for name in ["body", "identity"] + [f"attachment-{n}" for n in range(1, 101)]
    )
    assert len(blobs) == MAX_BLOBS_PER_SUBMISSION
    largest = ListedSubmission(
        "a" * 32, "followup", "b" * 32, bytes(32), datetime(2026, 1, 1), blobs
    )
    document = json.dumps(build_listing([largest] * MAX_LIST)).encode()
    assert len(document) < MAX_JSON_BYTES


# --- properties ----------------------------------------------------------------------------

_hex32 = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
_names = st.sets(st.integers(1, MAX_ATTACHMENTS), max_size=8).map(
    lambda numbers: [f"attachment-{n}" for n in sorted(numbers)]
)


@st.composite
def _submissions(draw: st.DrawFn) -> ListedSubmission:
    names = ["body"] + (["identity"] if draw(st.booleans()) else []) + draw(_names)
    return ListedSubmission(
        id=draw(_hex32),
        kind=draw(st.sampled_from(KINDS)),
        reporter_id=draw(_hex32),
        reporter_public_key=draw(st.binary(min_size=32, max_size=32)),
        received_hour=draw(
            st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1))
        ).replace(minute=0, second=0, microsecond=0),
        blobs=tuple(
            ListedBlob(
                name,
                draw(st.integers(0, 2**63 - 1)),
                draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
            )
            for name in names
        ),
    )


@given(st.lists(_submissions(), max_size=5, unique_by=lambda s: s.id))
def test_build_then_parse_gives_back_the_same_submissions(
    submissions: list[ListedSubmission],
) -> None:
    # Through real JSON text, as on the wire.
    document = json.loads(json.dumps(build_listing(submissions)))
    listing = parse_listing(document)
    assert listing.refused == ()
    assert list(listing.submissions) == submissions


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_field_names = st.sampled_from(
    ["id", "kind", "reporter_id", "reporter_public_key", "received_hour", "blobs", "name"]
)
_item_like = st.dictionaries(_field_names, _json, max_size=7)


@given(
    st.one_of(
        _json,
        _item_like,
        st.builds(lambda items: {"submissions": items}, st.lists(_item_like | _json, max_size=4)),
    )
)
def test_arbitrary_json_raises_nothing_but_the_typed_error(document: Any) -> None:
    with contextlib.suppress(SyncListingError):
        parse_listing(document)
    with contextlib.suppress(SyncListingError):
        parse_submission(document)


@given(_submissions(), st.data())
def test_a_damaged_item_is_refused_with_its_id_or_read_as_valid(
    submission: ListedSubmission, data: st.DataObject
) -> None:
    item = listing_item(submission)
    field = data.draw(st.sampled_from(sorted(item)))
    item[field] = data.draw(_json)
    try:
        parsed = parse_submission(item)
    except SyncListingError as exc:
        assert isinstance(exc, CryptoError)
        assert exc.submission_id == (submission.id if field != "id" else None)
    else:
        assert parsed.id == item["id"]
