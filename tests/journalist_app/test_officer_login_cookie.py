"""The officer's session cookie is ``Secure`` unless the app is plainly on loopback HTTP
(issue 9, finding 10: it was not, by default, behind an HTTPS proxy)."""

import dataclasses

import pytest

from journalist_app import SESSION_COOKIE_NAME, create_app


def _set_cookie(client, base_url: str, headers: dict[str, str] | None = None) -> str:
    response = client.get("/login", base_url=base_url, headers=headers or {})
    cookies = [
        v for v in response.headers.getlist("Set-Cookie") if v.startswith(SESSION_COOKIE_NAME)
    ]
    assert cookies, response.headers
    return cookies[0]


@pytest.mark.parametrize(
    ("base_url", "headers"),
    [
        # A TLS-terminating proxy on the same host that says so.
        ("http://127.0.0.1:8082", {"X-Forwarded-Proto": "https"}),
        ("http://127.0.0.1:8082", {"Forwarded": "for=192.0.2.1;proto=https"}),
        # A proxy that passes the public name on, without saying the scheme.
        ("http://officer.unit.example", {}),
        # HTTPS straight to the app.
        ("https://officer.unit.example", {}),
        ("https://localhost:8082", {}),
    ],
)
def test_the_session_cookie_is_secure_unless_on_plain_loopback_http(
    client, base_url: str, headers: dict[str, str]
) -> None:
    cookie = _set_cookie(client, base_url, headers)
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8082", "http://localhost:8082", "http://[::1]:8082"]
)
def test_plain_http_on_loopback_keeps_a_cookie_the_browser_will_send(client, base_url) -> None:
    """`make run` serves the officer app on http://127.0.0.1: a Secure cookie would not
    come back over plain HTTP from every client (urllib's does not)."""
    assert "; Secure" not in _set_cookie(client, base_url)


def test_the_setting_makes_it_secure_even_on_loopback(app, synced_config) -> None:
    secure = create_app(dataclasses.replace(synced_config, cookie_secure=True)).test_client()
    assert "; Secure" in _set_cookie(secure, "http://127.0.0.1:8082")
