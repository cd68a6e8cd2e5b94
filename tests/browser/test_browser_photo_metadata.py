"""Photos sealed in Chromium without their location and device data (issue 10, item 10).

A JPEG with GPS and camera Exif and a PNG with text, Exif and time chunks, made here
with Pillow, are attached to an anonymous report: the browser strips them (on by default
when anonymous) before sealing, and the unit's diagnostics (journalist_app/diagnostics/
files.py) find no GPS and no device field, while the pictures decode to the same pixels.
With the identity given, the option starts off and the GPS reaches the unit: the test
can fail. File names: sent as attachment-1.jpg… when asked, on this path too.
"""

import base64
import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from playwright.sync_api import Browser, Page

from crypto.contents import ReportBody
from crypto.envelope import open_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from journalist_app.diagnostics.files import diagnose_file
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.browser.conftest import PublicSite
from tests.browser.tab import PHONE
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
GPS = {1: "N", 2: (35.0, 46.0, 12.5), 3: "W", 4: (5.0, 48.0, 30.0)}  # Tanger


def _photo_with_gps() -> tuple[bytes, Image.Image]:
    picture = Image.new("RGB", (96, 64), (180, 40, 40))
    for x in range(0, 96, 8):
        picture.putpixel((x, 10), (0, 200, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerX"
    exif[0x0110] = "ModelY-1234"
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes(), comment=b"taken at home", quality=90)
    return out.getvalue(), Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _png_with_text_and_exif() -> bytes:
    picture = Image.new("RGB", (40, 30), (10, 20, 200))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Amina Benali")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPSLatitude 35.77</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerX"
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    picture.save(out, "PNG", pnginfo=info, exif=exif.tobytes())
    return out.getvalue()


def _officer_opens(site: PublicSite, unit_keys: UnitKeys, code: str) -> dict[str, bytes]:
    sync_app = create_sync_app(SourceConfig.from_env(source_environ(site.data_dir)))
    officer = SignedSyncClient(sync_app.test_client(), unit_keys.sync)
    public_key = derive_reporter_secrets(ReceiptCode.parse(code)).public_key
    wanted = base64.b64encode(bytes(public_key)).decode()
    (item,) = [i for i in officer.pending() if i["reporter_public_key"] == wanted]
    opened = {}
    for blob in item["blobs"]:
        envelope = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/{blob['name']}").data
        opened[blob["name"]] = open_bytes(envelope, [unit_keys.intake, unit_keys.identity])[1]
    return opened


def _fill(page: Page, tmp_path: Path, files: dict[str, bytes]) -> None:
    page.locator("#category-fraud").check(force=True)
    page.locator("#urls").fill("https://example.org/scam")
    page.locator("#description").fill("A page asks for bank details.")
    paths = []
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        paths.append(str(path))
    page.locator("input[name=attachments]").set_input_files(paths)
    page.locator("#good_faith").check(force=True)


def _send(page: Page) -> str:
    page.locator("form button[type=submit]").click()
    code_box = page.locator(".receipt-code bdi")
    code_box.wait_for(timeout=60_000)
    return code_box.inner_text().strip()


def test_an_anonymous_reporters_photos_reach_the_unit_without_location_or_device(
    browser: Browser, public_site: PublicSite, unit_keys: UnitKeys, tmp_path: Path
) -> None:
    jpeg, pixels = _photo_with_gps()
    png = _png_with_text_and_exif()
    assert diagnose_file(jpeg, video=False).gps is not None  # the unit would see it
    context = browser.new_context(locale="ar", viewport={"width": PHONE, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{public_site.origin}/report?lang=ar")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        option = page.locator("#strip-metadata-option")
        assert option.is_visible()
        assert page.locator("#strip_metadata").is_checked(), "on by default when anonymous"
        # For the closing note: the guidance and the option, in Arabic on a phone.
        page.locator("#category-child_abuse-guidance").scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "issue-10-csam-guidance-ar-phone.png")
        option.scroll_into_view_if_needed()
        page.locator("#attachments-field").screenshot(
            path=SCREENSHOTS / "issue-10-photo-metadata-option-ar-phone.png"
        )
        _fill(page, tmp_path, {"بيتي في طنجة.jpg": jpeg, "Amina-screen.png": png})
        page.locator("label[for=rename_files]").click()
        code = _send(page)
    finally:
        context.close()
    assert not errors, errors

    opened = _officer_opens(public_site, unit_keys, code)
    body = ReportBody.from_json(opened["body"])
    assert [a.name for a in body.attachments] == ["attachment-1.jpg", "attachment-2.png"]
    photo = diagnose_file(opened["attachment-1"], video=False)
    assert photo.gps is None and photo.metadata == [], photo.metadata
    assert photo.detected_type == "image/jpeg"
    # Not re-encoded: the same picture, decoded.
    clean = Image.open(io.BytesIO(opened["attachment-1"])).convert("RGB")
    assert clean.tobytes() == pixels.tobytes()
    screen = diagnose_file(opened["attachment-2"], video=False)
    assert screen.gps is None and screen.metadata == [], screen.metadata
    assert b"Amina" not in opened["attachment-2"] and b"GPSLatitude" not in opened["attachment-2"]
    assert Image.open(io.BytesIO(opened["attachment-2"])).size == (40, 30)


def test_with_the_identity_given_the_option_starts_off_and_the_photo_goes_as_it_is(
    browser: Browser, public_site: PublicSite, unit_keys: UnitKeys, tmp_path: Path
) -> None:
    jpeg, _ = _photo_with_gps()
    context = browser.new_context(locale="en")
    page = context.new_page()
    try:
        page.goto(f"{public_site.origin}/report?lang=en")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        page.locator("input[name=identity][value=identified]").check(force=True)
        assert not page.locator("#strip_metadata").is_checked()
        page.locator("#full_name").fill("Amina Benali")
        page.locator("#phone").fill("0612345678")
        _fill(page, tmp_path, {"IMG_0042.jpg": jpeg})
        code = _send(page)
    finally:
        context.close()
    opened = _officer_opens(public_site, unit_keys, code)
    assert ReportBody.from_json(opened["body"]).attachments[0].name == "IMG_0042.jpg"
    assert opened["attachment-1"] == jpeg
    assert diagnose_file(opened["attachment-1"], video=False).gps == pytest.approx(
        (35.770139, -5.808333), abs=1e-5
    )


def test_a_photo_the_browser_cannot_clean_is_not_sent_and_the_page_says_why(
    browser: Browser, public_site: PublicSite, tmp_path: Path
) -> None:
    context = browser.new_context(locale="fr")
    page = context.new_page()
    sealed_posts: list[str] = []
    page.on("request", lambda r: sealed_posts.append(r.url) if "/report/" in r.url else None)
    try:
        page.goto(f"{public_site.origin}/report?lang=fr")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        # A JPEG's first bytes, then nothing a parser can follow.
        _fill(page, tmp_path, {"cassée.jpg": b"\xff\xd8\xff\xe1\xff\xff" + b"\x00" * 100})
        page.locator("form button[type=submit]").click()
        summary = page.locator("#error-summary")
        summary.wait_for(timeout=10_000)
        text = summary.inner_text()
        assert "cassée.jpg" in text and "Rien n’a été envoyé" in text
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#description").input_value() == "A page asks for bank details."
    finally:
        context.close()
    assert sealed_posts == []
