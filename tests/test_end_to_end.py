"""Both apps on loopback, as `make run` starts them: report → sync → decrypted on the officer side.

Every piece is real: gunicorn processes for the public site, its sync listener and the
officer app; the `iblagh-officer` CLI for keys and sync; HTTP with cookies and CSRF.
"""

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.request import HTTPCookieProcessor, OpenerDirector, build_opener

import pyotp
import pytest

from tests.support.deployment import (
    OFFICER,
    PASSPHRASE,
    init_unit,
    officer_cli,
    public_host,
)
from tests.support.servers import Server, gunicorn

SECRET_TEXT = "Chaîne qui diffuse l'appel au meurtre — قناة تنشر الدعوة إلى القتل"


@dataclass
class Deployment:
    public: Server
    sync: Server
    officer: Server
    officer_env: dict[str, str]
    source_dir: Path
    # Printed once by `keys init`; the officer's authenticator app would hold it.
    totp_secret: str = ""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    unit = init_unit(tmp_path)
    init = unit.init
    assert "recovery" in init.stdout.lower()
    totp = re.search(r"^two-factor secret: ([A-Z2-7]+)$", init.stdout, re.MULTILINE)
    assert totp, init.stdout
    with (
        public_host(unit, tmp_path) as (public, sync),
        gunicorn(
            "journalist_app.wsgi:app",
            unit.officer_env,
            tmp_path / "officer.log",
            config=None,
            probe_path="/login",
        ) as officer,
    ):
        yield Deployment(public, sync, officer, unit.officer_env, unit.source_dir, totp.group(1))


def browser() -> OpenerDirector:
    return build_opener(HTTPCookieProcessor(CookieJar()))


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(opener: OpenerDirector, url: str, fields: dict[str, str]) -> str:
    with opener.open(url) as response:
        token = csrf_token(response.read().decode())
    data = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
    with opener.open(url, data=data) as response:
        return str(response.read().decode())


def submit_report(public_url: str, description: str, name: str = "") -> str:
    page = post_form(
        browser(),
        f"{public_url}/report?lang=fr",
        {
            "category": "incitement",
            "urls": "https://example.org/video/123",
            "description": description,
            "identity": "identified" if name else "anonymous",
            "full_name": name,
            "phone": "+212 6 12 34 56 78" if name else "",
            "good_faith": "y",
        },
    )
    match = re.search(r"<bdi>([0-9 ]{24})</bdi>", page)
    assert match, "no receipt code"
    return match.group(1)


def officer_session(officer_url: str, totp_secret: str) -> OpenerDirector:
    opener = browser()
    code = pyotp.TOTP(totp_secret).now()
    page = post_form(
        opener,
        f"{officer_url}/login",
        {"username": OFFICER, "passphrase": PASSPHRASE, "code": code},
    )
    assert "logout" in page.lower() or "déconnexion" in page.lower() or "/reports/" in page, page[
        :500
    ]
    return opener


def reports_in_queue(opener: OpenerDirector, officer_url: str) -> dict[str, str]:
    """Every report shown from the landing page (the triage queue): report id → its
    case page (one report view: the case page)."""
    with opener.open(f"{officer_url}/?lang=en") as response:
        queue = response.read().decode()
    found: dict[str, str] = {}
    for case_path in sorted(set(re.findall(r'href="(/cases/[0-9]+)"', queue))):
        with opener.open(officer_url + case_path + "?lang=en") as response:
            page = response.read().decode()
        for report_id in re.findall(r'id="report-([0-9a-f]{32})"', page):
            found[report_id] = page
    return found


def test_a_report_typed_in_the_public_form_appears_decrypted_after_a_sync(
    deployment: Deployment,
) -> None:
    submit_report(deployment.public.url, SECRET_TEXT, name="Youssef El Amrani")
    sync = officer_cli(deployment.officer_env, "sync", "--officer", OFFICER)
    assert sync.returncode == 0, sync.stderr
    assert "synced: 1 new" in sync.stdout
    assert "1 acknowledged" in sync.stdout
    # The public host no longer holds the ciphertext.
    blobs = [p for p in (deployment.source_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs == []
    opener = officer_session(deployment.officer.url, deployment.totp_secret)
    [report_id] = reports_in_queue(opener, deployment.officer.url)
    with opener.open(f"{deployment.officer.url}/reports/{report_id}?lang=fr") as response:
        report_page = response.read().decode()
    # The report page is its case's page, where text goes through clean_text.
    assert "Chaîne qui diffuse l&#x27;appel au meurtre" in report_page
    assert "قناة تنشر الدعوة إلى القتل" in report_page
    assert "https://example.org/video/123" in report_page
    assert "Youssef" not in report_page, "the identity must stay hidden by default"


def test_the_sync_button_pulls_and_a_second_sync_duplicates_nothing(
    deployment: Deployment,
) -> None:
    for index in range(3):
        submit_report(deployment.public.url, f"report number {index}")
    opener = officer_session(deployment.officer.url, deployment.totp_secret)
    with opener.open(deployment.officer.url + "/") as response:
        token = csrf_token(response.read().decode())
    data = urllib.parse.urlencode({"csrf_token": token}).encode()
    with opener.open(deployment.officer.url + "/sync", data=data) as response:
        response.read()
    again = officer_cli(deployment.officer_env, "sync", "--officer", OFFICER)
    assert again.returncode == 0, again.stderr
    assert "synced: 0 new" in again.stdout
    assert len(reports_in_queue(opener, deployment.officer.url)) == 3


def test_every_report_that_got_a_code_is_decryptable_by_the_unit(deployment: Deployment) -> None:
    """Invariant 4, second half: nothing acknowledged is unreadable."""
    codes = [submit_report(deployment.public.url, f"bulk {i} {SECRET_TEXT}") for i in range(8)]
    assert len(set(codes)) == 8
    sync = officer_cli(deployment.officer_env, "sync", "--officer", OFFICER)
    assert "synced: 8 new" in sync.stdout, sync.stdout + sync.stderr
    opener = officer_session(deployment.officer.url, deployment.totp_secret)
    shown = reports_in_queue(opener, deployment.officer.url)
    assert len(shown) == 8
    for report_id in shown:
        with opener.open(f"{deployment.officer.url}/reports/{report_id}?lang=en") as response:
            assert "bulk " in response.read().decode()


def test_sync_with_a_wrong_passphrase_fails_clearly_and_pulls_nothing(
    deployment: Deployment,
) -> None:
    submit_report(deployment.public.url, "still waiting")
    env = {**deployment.officer_env, "IBLAGH_OFFICER_PASSPHRASE": "not the passphrase at all"}
    result = officer_cli(env, "sync", "--officer", OFFICER)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    blobs = [p for p in (deployment.source_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
