import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "journalist_app" / "translations"


def _html_tag(html: str) -> str:
    match = re.search(r"<html[^>]*>", html)
    assert match
    return match.group(0)


def test_login_renders_in_arabic_right_to_left(client) -> None:
    html = client.get("/login?lang=ar").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="ar" dir="rtl">'
    assert "تسجيل الدخول" in html and "عبارة المرور" in html


def test_french_is_the_default(client) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="fr" dir="ltr">'
    assert "Phrase secrète" in html and "Se connecter" in html


@pytest.mark.parametrize(
    ("header", "language", "word"),
    [("es-ES,es;q=0.9", "es", "Frase de contraseña"), ("en-GB", "en", "Passphrase")],
)
def test_accept_language_picks_among_the_four(client, header, language, word) -> None:
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'lang="{language}"' in _html_tag(html) and word in html


def test_a_chosen_language_outlives_login_and_logout(client, auth) -> None:
    client.get("/login?lang=ar")
    auth.login()
    assert _html_tag(client.get("/").get_data(as_text=True)) == '<html lang="ar" dir="rtl">'
    auth.logout()
    html = client.get("/login").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="ar" dir="rtl">'
    assert "أُزيلت مفاتيحك من الذاكرة" in html


def test_an_unknown_language_falls_back_to_french(client) -> None:
    html = client.get("/login?lang=xx", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'lang="fr"' in _html_tag(html)


@pytest.mark.parametrize("language", ["ar", "fr", "en", "es"])
def test_catalogs_are_complete_and_keep_their_placeholders(language) -> None:
    template = {
        message.id for message in read_po((TRANSLATIONS / "messages.pot").open("rb")) if message.id
    }
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    catalog = read_po(path.open("rb"), locale=language)
    translated = {message.id: message for message in catalog if message.id}
    assert set(translated) == template
    for msgid, message in translated.items():
        # Plural entries carry tuples: the singular's placeholders must stand in every form.
        source = msgid if isinstance(msgid, tuple) else (msgid,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms) and not message.fuzzy, msgid
        expected = sorted(re.findall(r"%\(\w+\)[sd]", source[-1]))
        for form in forms:
            assert sorted(re.findall(r"%\(\w+\)[sd]", form)) == expected, (msgid, form)


def test_catalogs_compile_in_memory_and_nothing_compiled_rests_in_the_source_tree() -> None:
    from journalist_app.catalogs import compile_catalogs

    compiled = compile_catalogs()
    assert set(compiled) == {"ar", "fr", "en", "es"}
    assert compiled["fr"].gettext("Log in") != "Log in"
    assert list(TRANSLATIONS.rglob("*.mo")) == [], "catalogs are compiled in memory, not on disk"


def test_every_refusal_has_a_page_in_the_officers_language(client) -> None:
    # A byte range past the end of a static file (werkzeug's 416), as any refusal without
    # a page of its own (the dashboard's 400, a viewer's 422): this page, never werkzeug's.
    response = client.get(
        "/static/officer.css?lang=ar",
        headers={"Range": "bytes=99999999-"},
        follow_redirects=False,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 416
    assert _html_tag(html) == '<html lang="ar" dir="rtl">'
    assert "تعذّر استخدام ما أُرسل" in html and "Requested Range" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("range_header", ["chars=0-9", "bytes=abc", "bytes=0-1,4-5"])
def test_a_range_the_host_cannot_use_is_ignored(client, range_header) -> None:
    # RFC 9110 §14.2: the whole file, not a 416 (an unknown unit must be ignored).
    whole = client.get("/static/officer.css").get_data()
    response = client.get("/static/officer.css", headers={"Range": range_header})
    assert response.status_code == 200 and response.get_data() == whole
    assert client.get("/static/officer.css", headers={"Range": "bytes=0-9"}).status_code == 206


def test_a_failure_of_the_host_shows_a_page_in_the_officers_language(
    app, client, monkeypatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a detail the page must not show")

    monkeypatch.setattr("journalist_app.views.auth.start_ceremony", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    response = client.get("/login?lang=es")

    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert _html_tag(html) == '<html lang="es" dir="ltr">'
    assert "Algo ha fallado en este servidor" in html
    assert "a detail" not in html and "Traceback" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
