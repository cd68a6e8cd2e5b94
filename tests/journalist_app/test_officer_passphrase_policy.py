"""The passphrase policy: length only (12 to 1024 characters), never the username inside."""

import pytest

from journalist_app.accounts.passphrase import (
    MAX_PASSPHRASE_LENGTH,
    MIN_PASSPHRASE_LENGTH,
    check_passphrase,
)
from journalist_app.errors import WeakPassphrase


@pytest.mark.parametrize(
    "passphrase",
    [
        "a" * MIN_PASSPHRASE_LENGTH,  # no composition rule: one letter repeated is long enough
        "correct horse battery staple",
        "كلمة مرور طويلة بما يكفي",  # Arabic, counted in characters
        "ⵜⴰⵎⴰⵣⵉⵖⵜ ⵜⴰⵎⴰⵣⵉⵖⵜ",
        "x" * MAX_PASSPHRASE_LENGTH,
    ],
)
def test_any_passphrase_of_a_fitting_length_is_accepted(passphrase: str) -> None:
    check_passphrase(passphrase, "nadia")


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        ("a" * (MIN_PASSPHRASE_LENGTH - 1), "at least 12"),
        ("", "at least 12"),
        ("x" * (MAX_PASSPHRASE_LENGTH + 1), "at most 1024"),
        ("my name is nadia, ok?", "must not contain the username"),
        ("NADIA-2026-summer", "must not contain the username"),
    ],
)
def test_too_short_too_long_or_built_on_the_username_is_refused(
    passphrase: str, message: str
) -> None:
    with pytest.raises(WeakPassphrase, match=message):
        check_passphrase(passphrase, "nadia")


def test_the_web_form_explains_the_policy_in_the_officers_language(client, auth, unit) -> None:
    auth.login()
    client.get("/?lang=en")
    page = client.get("/account/passphrase").get_data(as_text=True)
    token = auth.csrf("/account/passphrase")
    for new, message in (
        ("short", "at least 12 characters"),
        (f"{unit.username} and more words", "must not contain your username"),
    ):
        response = client.post(
            "/account/passphrase",
            data={"csrf_token": token, "current": unit.passphrase, "new": new, "repeat": new},
        )
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert "No rule about digits or symbols" in page
