"""Offline diagnostics of addresses and files, hash lists and their matches."""

import io
import json
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from journalist_app.diagnostics.files import diagnose_file
from journalist_app.diagnostics.hashlists import HashListRefused, import_list, parse_list
from journalist_app.diagnostics.pdq import distance, pdq_of_bytes
from journalist_app.diagnostics.urls import diagnose_url, parse_handle
from journalist_app.models import (
    AttachmentHashes,
    AttachmentPdq,
    AuditEntry,
    Case,
    CaseEvent,
    HashList,
    HashListEntry,
    ReportTriage,
)
from journalist_app.triage.ingest import index_pending
from tests.support.triage import TriageWorld, make_world


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a diagnostic tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A picture with shapes (PDQ needs structure; a flat colour has no hash)."""
    rng = random.Random(seed)
    picture = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(30):
        x, y = rng.randrange(size[0] - 40), rng.randrange(size[1] - 40)
        w, h = rng.randrange(20, 200), rng.randrange(20, 200)
        draw.ellipse((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    return picture


def jpeg(picture: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def test_url_diagnostics_work_offline(no_network) -> None:
    defanged = diagnose_url("hxxps://www.TikTok[.]com/@Some.User/video/7?utm_source=x&is_from=1")
    assert defanged.refanged and defanged.canonical == "tiktok.com/@Some.User/video/7?is_from=1"
    assert (defanged.platform, defanged.handle, defanged.account) == (
        "tiktok",
        "some.user",
        "tiktok:some.user",
    )
    assert parse_handle("@Some.User", "tiktok") == defanged.account
    short = diagnose_url("https://vm.tiktok.com/ZMabc123/")
    assert short.shortener and short.platform == "tiktok" and short.handle is None
    assert diagnose_url("bit.ly/3xyz").shortener
    homograph = diagnose_url("https://аpple.com/login")  # Cyrillic а
    assert homograph.is_idn and homograph.mixed_scripts
    assert homograph.host_punycode == "xn--pple-43d.com" and homograph.host_unicode == "аpple.com"
    assert not diagnose_url("https://مثال.إختبار/").mixed_scripts
    assert diagnose_url("https://forums.news.bbc.co.uk/x").registrable_domain == "bbc.co.uk"
    assert diagnose_url("https://x.com/Bad_Guy/status/1").account == "x:bad_guy"


def test_a_jpeg_with_gps_gives_its_place_device_and_hashes() -> None:
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS 5D"
    exif[34853] = {1: "N", 2: (33.0, 35.0, 12.5), 3: "W", 4: (7.0, 36.0, 0.0)}
    data = jpeg(scene(1), exif=exif)

    found = diagnose_file(data)

    assert found.detected_type == "image/jpeg" and (found.width, found.height) == (640, 480)
    assert found.gps == (33.586806, -7.6)
    assert ("Make", "Canon") in found.metadata and ("Model", "EOS 5D") in found.metadata
    assert found.has_identifying_metadata
    assert len(found.md5) == 32 and len(found.sha1) == 40 and len(found.sha256) == 64
    assert found.pdq is not None and found.pdq.quality > 50 and len(found.pdq.hex) == 64


def test_png_and_pdf_diagnostics() -> None:
    png = io.BytesIO()
    scene(2, (300, 200)).save(png, "PNG")
    found = diagnose_file(png.getvalue())
    assert found.detected_type == "image/png" and (found.width, found.height) == (300, 200)
    assert found.gps is None and not found.metadata
    pdf = io.BytesIO()
    scene(3).save(pdf, "PDF", save_all=True, append_images=[scene(4)], title="Secret plan")
    found = diagnose_file(pdf.getvalue())
    assert found.detected_type == "application/pdf" and found.pdf_pages == 2
    assert ("Title", "Secret plan") in found.metadata


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg is not installed")
def test_an_mp4_gives_duration_size_and_keyframe_pdqs(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=10",
         "-g", "10", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip

    found = diagnose_file(video.read_bytes())

    assert found.detected_type == "video/mp4"
    assert (found.width, found.height) == (320, 240) and found.duration_seconds == 3.0
    assert len(found.keyframe_pdqs) >= 2


def test_a_malformed_list_is_refused_and_nothing_is_imported(world) -> None:
    good = "a" * 64
    bad = f"sha256,md5,label,source\n{good},,known,unit\n{'b' * 63},,short hash,unit\n"
    with pytest.raises(HashListRefused, match="line 3"):
        import_list(world.session, "sara", bad.encode(), "bad.csv")
    world.session.rollback()
    assert world.session.scalar(select(func.count()).select_from(HashList)) == 0
    assert world.session.scalar(select(func.count()).select_from(HashListEntry)) == 0
    for refused in (b"", b"label\nx\n", b"[1]", b'{"entries": [{"sha256": "zz", "label": "x"}]}',
                    b"sha256,label\n" + good.encode() + b",\n"):  # fmt: skip
        with pytest.raises(HashListRefused):
            parse_list(refused, "x")
    entries = parse_list(json.dumps([{"md5": "C" * 32, "label": " a  b "}]).encode(), "l.json")
    assert entries[0].md5 == "c" * 32 and entries[0].label == "a b"


def test_a_matching_report_jumps_to_the_top_labelled_and_near_copies_meet(world) -> None:
    original = scene(7)
    world.add_report({"category": "other"}, attachments=[("a.jpg", jpeg(original))])
    resized = original.resize((320, 240))
    near = world.add_report({"category": "fraud"}, attachments=[("b.jpg", jpeg(resized, 60))])
    other = world.add_report({"category": "other"}, attachments=[("c.jpg", jpeg(scene(8)))])
    index_pending(world.session, world.store, world.supervisor)
    near_case = world.session.get(Case, world.session.get(ReportTriage, near).case_id)
    assert near_case.priority == 3
    assert world.session.scalar(select(func.count()).select_from(AttachmentHashes)) == 3
    assert world.session.scalar(select(func.count()).select_from(AttachmentPdq)) >= 3 * 7

    listed = pdq_of_bytes(jpeg(original, 75))
    assert listed is not None
    csv = f"pdq,label,source\n{listed.hex},known abuse series 12,partner hotline\n"
    result = import_list(world.session, "sara", csv.encode(), "series.csv")

    assert result.matches == 2
    world.session.expire_all()
    near_case = world.session.get(Case, world.session.get(ReportTriage, near).case_id)
    assert near_case.priority == 1 and near_case.hash_label == "known abuse series 12"
    other_case = world.session.get(Case, world.session.get(ReportTriage, other).case_id)
    assert other_case.priority == 4 and other_case.hash_label is None
    events = world.session.scalars(
        select(CaseEvent.action).where(CaseEvent.case_id == near_case.id)
    ).all()
    assert "case.hash_matched" in events
    assert world.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action == "hashlist.imported")
    ).one()


def test_a_report_arriving_after_the_list_is_matched_at_ingest(world) -> None:
    data = jpeg(scene(9))
    from journalist_app.diagnostics.files import hashes

    md5 = hashes(data)[0]
    import_list(world.session, "sara", f"md5,label\n{md5},exact copy\n".encode(), "l.csv")
    report = world.add_report({"category": "other"}, attachments=[("x.jpg", data)])
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    case = world.session.get(Case, world.session.get(ReportTriage, report).case_id)
    assert case.priority == 1 and case.hash_label == "exact copy"


def test_pdq_meets_resized_reencoded_and_centre_cropped_copies() -> None:
    original = scene(11)
    stored = diagnose_file(jpeg(original)).pdq_variants
    width, height = original.size
    copies = [
        original.resize((width // 2, height // 2)),
        original.crop((16, 12, width - 16, height - 12)),  # 5% cropped
        original.crop((0, 0, int(width * 0.95), int(height * 0.95))),
    ]
    for copy in copies:
        query = pdq_of_bytes(jpeg(copy, 50))
        assert query is not None
        assert min(distance(query.hex, v.hex) for v in stored.values()) <= 31
    unrelated = pdq_of_bytes(jpeg(scene(12)))
    assert unrelated is not None
    assert min(distance(unrelated.hex, v.hex) for v in stored.values()) > 31


def test_each_list_keeps_its_own_pdq_distance(world) -> None:
    data = jpeg(scene(13))
    listed = pdq_of_bytes(data)
    assert listed is not None
    value = int(listed.hex, 16)
    for bit in range(40):  # 40 bits away from the picture's PDQ
        value ^= 1 << (bit * 6)
    far = f"{value:064x}"
    import_list(world.session, "sara", f"pdq,label\n{far},strict\n".encode(), "a.csv")
    import_list(
        world.session, "sara", f"pdq,label\n{far},loose\n".encode(), "b.csv", max_distance=48
    )
    report = world.add_report({"category": "other"}, attachments=[("x.jpg", data)])
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    case = world.session.get(Case, world.session.get(ReportTriage, report).case_id)
    assert case.hash_label == "loose"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg is not installed")
def test_a_video_at_ingest_gets_keyframe_pdqs_and_a_re_encoded_copy_finds_its_case(
    world, tmp_path: Path
) -> None:
    from journalist_app.triage.search import search

    source = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10",
         "-g", "10", "-pix_fmt", "yuv420p", str(source)],
        check=True,
    )  # fmt: skip
    copy = tmp_path / "copy.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-vf", "scale=160:120", "-crf", "35",
         "-g", "10", str(copy)],
        check=True,
    )  # fmt: skip
    report = world.add_report(
        {"category": "terrorism"}, attachments=[("v.mp4", source.read_bytes())]
    )
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    stored = world.session.scalars(
        select(AttachmentPdq.variant).where(AttachmentPdq.report_id == report)
    ).all()
    assert len([v for v in stored if v.startswith("keyframe-")]) >= 2
    keyframe = diagnose_file(copy.read_bytes()).keyframe_pdqs[0]
    found = search(world.session, world.analyst, f"pdq:{keyframe}")
    assert [c.id for c in found.cases] == [world.session.get(ReportTriage, report).case_id]


def test_a_file_seen_before_reuses_its_pdqs(world, monkeypatch: pytest.MonkeyPatch) -> None:
    data = jpeg(scene(14))
    world.add_report({"category": "other"}, attachments=[("a.jpg", data)])
    index_pending(world.session, world.store, world.supervisor)
    import journalist_app.triage.ingest as ingest

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(ingest, "diagnose_file", refuse)
    world.add_report({"category": "other"}, attachments=[("b.jpg", data)])
    index_pending(world.session, world.store, world.supervisor)
    rows = world.session.scalars(select(AttachmentPdq)).all()
    by_report: dict[str, set[str]] = {}
    for row in rows:
        by_report.setdefault(row.report_id, set()).add(row.pdq)
    assert len(by_report) == 2 and len({frozenset(v) for v in by_report.values()}) == 1
