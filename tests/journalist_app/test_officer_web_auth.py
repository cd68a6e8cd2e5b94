import re

import pytest

from journalist_app.views.context import EXTENSION

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Pages that load one of the app's own script files (the login page: static/webauthn.js).
CSP_WITH_OWN_SCRIPTS = CSP.replace(
    "default-src 'none'; ", "default-src 'none'; script-src 'self'; "
)


def _routes(app) -> list[tuple[str, str]]:
    """Every (method, URL) the app serves, with a sample id filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.login", "static"):
            continue
        url = re.sub(r"<[^>]+>", "0" * 32, rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def test_every_route_but_login_requires_a_login(app, client, auth) -> None:
    routes = _routes(app)
    expected = {
        ("GET", "/"),
        ("GET", "/reports/" + "0" * 32),
        ("POST", "/sync"),
        ("POST", "/logout"),
    }
    assert expected <= set(routes)
    # A valid CSRF token, so that it is the login check that refuses.
    token = auth.csrf("/login")
    for method, url in routes:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].endswith("/login")


def test_unknown_pages_do_not_reveal_themselves_before_login(client) -> None:
    assert client.get("/admin").headers["Location"].endswith("/login")


def test_login_unlocks_and_logout_forgets_the_keyring(app, client, auth, mailbox) -> None:
    submission = mailbox.add_report({"v": 1, "category": "fraud", "description": "secret"})
    keyrings = app.extensions[EXTENSION].keyrings
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert len(keyrings) == 1
    auth.sync()
    report_url = f"/reports/{submission.id}"
    assert "secret" in client.get(report_url).get_data(as_text=True)
    stolen = client.get_cookie("iblagh_officer").value

    auth.logout()

    assert len(keyrings) == 0
    replay = app.test_client()
    replay.set_cookie("iblagh_officer", stolen)
    response = replay.get(report_url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "secret" not in response.get_data(as_text=True)


def test_the_cookie_holds_a_session_id_not_a_key(client, auth) -> None:
    auth.login()
    cookie = client.get_cookie("iblagh_officer")
    assert cookie.http_only and cookie.same_site == "Strict"
    assert len(cookie.value) < 200


@pytest.mark.parametrize(
    ("username", "passphrase"), [("alice", "wrong passphrase!!"), ("nobody", "alice passphrase")]
)
def test_a_failed_login_says_the_same_thing_whatever_was_wrong(client, auth, username, passphrase):
    client.get("/login?lang=en")
    response = auth.login(username, passphrase)
    assert response.status_code == 401
    assert "Check your username, passphrase and two-factor code" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_login_without_the_csrf_token_is_refused(client, unit) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"username": unit.username, "passphrase": unit.passphrase}
    )
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logged_in_forms_need_their_csrf_token(app, client, auth, mailbox) -> None:
    mailbox.add_report({"v": 1, "category": "fraud"})
    auth.login()
    assert client.post("/sync").status_code == 400
    assert client.post("/logout").status_code == 400
    assert len(mailbox.submissions) == 1, "nothing was pulled"
    assert len(app.extensions[EXTENSION].keyrings) == 1, "still logged in"


def test_an_idle_session_expires(app, client, auth) -> None:
    auth.login()
    store = app.extensions[EXTENSION].keyrings
    store._idle_seconds = 0  # what IBLAGH_SESSION_MINUTES sets, minus the wait
    assert client.get("/").status_code == 302


def test_security_headers_are_on_every_answer(client, auth) -> None:
    login_page = client.get("/login")
    # The login page runs the app's own security-key script, and nothing else.
    assert login_page.headers["Content-Security-Policy"] == CSP_WITH_OWN_SCRIPTS
    answers = [login_page, client.get("/static/officer.css"), client.get("/")]
    auth.login()
    answers += [client.get("/"), client.get("/nowhere"), client.get("/reports/" + "f" * 32)]
    for response in answers:
        if response is not login_page:
            assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    assert [r.status_code for r in answers[-2:]] == [404, 404]


def test_pages_load_nothing_but_their_own_stylesheet(client, auth) -> None:
    auth.login()
    for html in (
        client.get("/login").get_data(as_text=True),
        client.get("/").get_data(as_text=True),
    ):
        assert "<script" not in html
        assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []
