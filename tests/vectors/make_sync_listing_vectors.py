"""Generate tests/vectors/sync_listing_v1.json, the sync listing vectors (docs/sync-api.md).

Run by hand from the repository root when the vectors need to change:

    .venv/bin/python tests/vectors/make_sync_listing_vectors.py

Three sections:

- ``accepted``: listing items any reader must accept, each with the blobs' contents
  (base64) so that a host under test can hold the same submission and list it again,
  and the item a writer produces for it (``canonical``: unknown fields dropped, blobs in
  name order);
- ``refused``: items a reader must refuse on their own, each with the reason code and
  the id the refusal names (``null`` when the item has no well-formed id);
- ``documents``: whole listings, with the ``limit`` asked for, and either the reason the
  whole answer is refused or, item by item, what is accepted and what is refused.

Every vector is checked against crypto.sync_api before the file is written.
"""

import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey

from crypto.encoding import b64encode
from crypto.errors import SyncListingError
from crypto.sync_api import MAX_ATTACHMENTS, listing_item, parse_listing, parse_submission

OUTPUT = Path(__file__).with_name("sync_listing_v1.json")
HOUR = "2026-11-28T18:00:00Z"


def _id(n: int) -> str:
    return f"{n:032x}"


def _reporter_key(n: int) -> str:
    return b64encode(bytes(PrivateKey(bytes([n]) * 32).public_key))


def _submission(
    n: int, names: list[str], kind: str = "report", hour: str = HOUR
) -> tuple[dict[str, Any], dict[str, str]]:
    """An item and its blobs' contents: deterministic bytes, so sizes and digests are known."""
    contents = {name: f"submission {n}, blob {name}".encode() * (n % 3 + 1) for name in names}
    item = {
        "id": _id(n),
        "kind": kind,
        "reporter_id": _id(1000 + n),
        "reporter_public_key": _reporter_key(n),
        "received_hour": hour,
        "blobs": [
            {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in contents.items()
        ],
    }
    return item, {name: b64encode(data) for name, data in contents.items()}


def _attachments(count: int) -> list[str]:
    return [f"attachment-{n}" for n in range(1, count + 1)]


def accepted() -> list[dict[str, Any]]:
    cases: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def add(description: str, item: dict[str, Any], contents: dict[str, str]) -> None:
        cases.append((description, item, contents))

    add("a report with its body only", *_submission(1, ["body"]))
    add(
        "a report with an identity section and two attachments",
        *_submission(2, ["body", "identity", "attachment-1", "attachment-2"]),
    )
    add("a follow-up with one attachment", *_submission(3, ["body", "attachment-1"], "followup"))
    add(
        f"the protocol ceiling: identity and {MAX_ATTACHMENTS} attachments",
        *_submission(4, ["body", "identity", *_attachments(MAX_ATTACHMENTS)]),
    )
    add(
        "more attachments than the public host's default setting (10)",
        *_submission(5, ["body", *_attachments(11)]),
    )
    item, contents = _submission(6, ["body"], hour="2027-01-01T00:00:00Z")
    add("midnight of a new year", item, contents)
    item, contents = _submission(7, ["body", "attachment-1"])
    item["blobs"].reverse()
    add("blobs in any order", item, contents)
    item, contents = _submission(8, ["body"])
    item["future_field"] = {"added": "by a newer public host"}
    add("a field this version does not know is ignored", item, contents)
    return [
        {
            "description": description,
            "item": item,
            "contents": contents,
            "canonical": _canonical(item),
        }
        for description, item, contents in cases
    ]


def _canonical(item: dict[str, Any]) -> dict[str, Any]:
    written = listing_item(parse_submission(item))
    written["blobs"].sort(key=lambda blob: blob["name"])
    return written


def refused() -> list[dict[str, Any]]:
    base, _ = _submission(0xAB, ["body", "identity", "attachment-1"])
    sid = base["id"]
    cases: list[tuple[str, Any, str, str | None]] = []

    def changed(**fields: Any) -> dict[str, Any]:
        item = copy.deepcopy(base)
        for name, value in fields.items():
            if value is _DELETE:
                del item[name]
            else:
                item[name] = value
        return item

    def with_blobs(blobs: Any) -> dict[str, Any]:
        return changed(blobs=blobs)

    body = base["blobs"][0]

    def blob(**fields: Any) -> dict[str, Any]:
        return {**body, **fields}

    cases += [
        ("not an object", [base], "not_an_object", None),
        ("null", None, "not_an_object", None),
        ("no id", changed(id=_DELETE), "bad_id", None),
        ("an id in upper case", changed(id=sid.upper()), "bad_id", None),
        ("an id of 31 hex digits", changed(id=sid[:-1]), "bad_id", None),
        ("an id that is a number", changed(id=20), "bad_id", None),
        ("no kind", changed(kind=_DELETE), "missing_field", sid),
        ("no blobs", changed(blobs=_DELETE), "missing_field", sid),
        ("the kind 'reply'", changed(kind="reply"), "bad_kind", sid),
        ("a kind that is a list", changed(kind=["report"]), "bad_kind", sid),
        ("a reporter id of 33 hex digits", changed(reporter_id="a" * 33), "bad_reporter_id", sid),
        (
            "a reporter key of 31 bytes",
            changed(reporter_public_key=b64encode(bytes(31))),
            "bad_reporter_key",
            sid,
        ),
        (
            "a reporter key in URL-safe base64",
            changed(reporter_public_key="-_" * 22),
            "bad_reporter_key",
            sid,
        ),
        ("a reporter key that is null", changed(reporter_public_key=None), "bad_reporter_key", sid),
        (
            "a reception time to the minute",
            changed(received_hour="2026-11-28T18:04:00Z"),
            "bad_received_hour",
            sid,
        ),
        (
            "a reception hour with an offset instead of Z",
            changed(received_hour="2026-11-28T18:00:00+00:00"),
            "bad_received_hour",
            sid,
        ),
        (
            "a reception hour without a time zone",
            changed(received_hour="2026-11-28T18:00:00"),
            "bad_received_hour",
            sid,
        ),
        (
            "a reception hour of month 13",
            changed(received_hour="2026-13-01T18:00:00Z"),
            "bad_received_hour",
            sid,
        ),
        ("blobs that are an object", with_blobs({"body": body}), "bad_blobs", sid),
        ("a blob that is a string", with_blobs([body, "identity"]), "bad_blob", sid),
        ("a blob without a sha256", with_blobs([{"name": "body", "size": 1}]), "bad_blob", sid),
        (
            "the blob name 'attachment-0'",
            with_blobs([body, blob(name="attachment-0")]),
            "bad_blob_name",
            sid,
        ),
        (
            "a blob name with a leading zero",
            with_blobs([body, blob(name="attachment-01")]),
            "bad_blob_name",
            sid,
        ),
        ("a blob name that is a path", with_blobs([blob(name="../body")]), "bad_blob_name", sid),
        ("a blob name in upper case", with_blobs([blob(name="BODY")]), "bad_blob_name", sid),
        (
            "a blob name of four digits",
            with_blobs([body, blob(name="attachment-1000")]),
            "bad_blob_name",
            sid,
        ),
        (
            f"attachment-{MAX_ATTACHMENTS + 1}, beyond the protocol ceiling",
            with_blobs([body, blob(name=f"attachment-{MAX_ATTACHMENTS + 1}")]),
            "too_many_attachments",
            sid,
        ),
        (
            f"{MAX_ATTACHMENTS + 3} blobs",
            with_blobs(
                [body, blob(name="identity")]
                + [blob(name=name) for name in _attachments(MAX_ATTACHMENTS + 1)]
            ),
            "too_many_blobs",
            sid,
        ),
        ("a blob listed twice", with_blobs([body, body]), "duplicate_blob", sid),
        ("no body", with_blobs([blob(name="identity")]), "no_body", sid),
        ("an empty blob list", with_blobs([]), "no_body", sid),
        ("a negative size", with_blobs([blob(size=-1)]), "bad_blob_size", sid),
        ("a size that is a boolean", with_blobs([blob(size=True)]), "bad_blob_size", sid),
        ("a size that is a float", with_blobs([blob(size=1.0)]), "bad_blob_size", sid),
        ("a size that is a string", with_blobs([blob(size="1")]), "bad_blob_size", sid),
        ("a size beyond 64 bits", with_blobs([blob(size=2**63)]), "bad_blob_size", sid),
        (
            "a sha256 in upper case",
            with_blobs([blob(sha256=body["sha256"].upper())]),
            "bad_blob_sha256",
            sid,
        ),
        (
            "a sha256 of 63 digits",
            with_blobs([blob(sha256=body["sha256"][:-1])]),
            "bad_blob_sha256",
            sid,
        ),
    ]
    return [
        {"description": d, "item": item, "reason": reason, "submission_id": submission_id}
        for d, item, reason, submission_id in cases
    ]


_DELETE = object()


def documents() -> list[dict[str, Any]]:
    good = [_submission(n, ["body"])[0] for n in (30, 31, 32)]
    bad = copy.deepcopy(good[1])
    bad["blobs"][0]["name"] = f"attachment-{MAX_ATTACHMENTS + 1}"
    return [
        {
            "description": "an empty listing",
            "limit": 100,
            "document": {"submissions": []},
            "items": [],
        },
        {"description": "not an object", "limit": 100, "document": [], "reason": "not_a_listing"},
        {"description": "no submissions", "limit": 100, "document": {}, "reason": "not_a_listing"},
        {
            "description": "submissions that are an object",
            "limit": 100,
            "document": {"submissions": {}},
            "reason": "not_a_listing",
        },
        {
            "description": "more items than the limit asked for",
            "limit": 2,
            "document": {"submissions": good},
            "reason": "too_many_items",
        },
        {
            "description": "a refused item between two good ones: the good ones still arrive",
            "limit": 3,
            "document": {"submissions": [good[0], bad, good[2]]},
            "items": [
                {"accepted": good[0]["id"]},
                {"refused": bad["id"], "reason": "too_many_attachments"},
                {"accepted": good[2]["id"]},
            ],
        },
        {
            "description": "an id listed twice: the second is refused",
            "limit": 3,
            "document": {"submissions": [good[0], good[0]]},
            "items": [
                {"accepted": good[0]["id"]},
                {"refused": good[0]["id"], "reason": "duplicate_id"},
            ],
        },
        {
            "description": "an item with no id is refused without one",
            "limit": 3,
            "document": {"submissions": [{"kind": "report"}, good[2]]},
            "items": [{"refused": None, "reason": "bad_id"}, {"accepted": good[2]["id"]}],
        },
    ]


def check(vectors: dict[str, Any]) -> None:
    for vector in vectors["accepted"]:
        parse_submission(vector["item"])
    for vector in vectors["refused"]:
        try:
            parse_submission(vector["item"])
        except SyncListingError as exc:
            assert exc.reason == vector["reason"], (vector["description"], exc.reason)
            assert exc.submission_id == vector["submission_id"], vector["description"]
        else:
            raise AssertionError(f"accepted: {vector['description']}")
    for vector in vectors["documents"]:
        try:
            listing = parse_listing(vector["document"], vector["limit"])
        except SyncListingError as exc:
            assert exc.reason == vector.get("reason"), vector["description"]
            continue
        assert "reason" not in vector, vector["description"]
        assert len(listing.entries) == len(vector["items"]), vector["description"]


def main() -> int:
    vectors = {
        "version": 1,
        "spec": "docs/sync-api.md",
        "accepted": accepted(),
        "refused": refused(),
        "documents": documents(),
    }
    check(vectors)
    OUTPUT.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {len(vectors['accepted'])} accepted, {len(vectors['refused'])} refused and "
        f"{len(vectors['documents'])} document vectors to {OUTPUT}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
