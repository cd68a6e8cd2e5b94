"""Roles: one permission table, enforced on every route and every service action.

The route table is read from a real app at collection time, so a route added without a
permission rule shows up here as a failing case, for every role.
"""

import inspect
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from journalist_app import audit, create_app
from journalist_app.accounts import officers
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from journalist_app.errors import PermissionDenied
from journalist_app.keys import custody, grants
from journalist_app.keys import rotation as key_ops
from journalist_app.keys.custody import held_secrets, init_unit_keys, new_officer, unlock
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.roles import (
    ROLE_PERMISSIONS,
    ROLE_UNIT_KEYS,
    Permission,
    Role,
    has_permission,
    permissions_of,
    requires,
)
from journalist_app.views.access import REQUIRED_PERMISSION
from journalist_app.views.context import EXTENSION, KEYRING_SESSION_KEY
from journalist_app.views.guard import PUBLIC_ENDPOINTS

SAMPLE_ID = "0" * 32
PASSPHRASES = {role: f"a passphrase for the {role.value} account" for role in Role}


def make_config(data_dir: Path) -> OfficerConfig:
    # A sync URL nothing answers: a permitted sync fails politely, it does not hang.
    return OfficerConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(data_dir),
            "IBLAGH_KDF": "fast",
            "IBLAGH_TESTING": "1",
            "IBLAGH_SYNC_URL": "http://127.0.0.1:9",
        }
    )


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _route_table() -> list[tuple[str, str, str]]:
    """(endpoint, method, URL with sample values) of every route but the public ones."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(make_config(Path(data_dir)))
        routes = []
        for rule in app.url_map.iter_rules():
            if rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            url = re.sub(r"<int:[^>]+>", "1", rule.rule)
            url = re.sub(r"<[^>]+>", SAMPLE_ID, url)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule.endpoint, method, url))
        return sorted(routes)


ROUTES = _route_table()


@dataclass
class RoleApp:
    app: Flask
    keyrings: dict[Role, UnlockedKeyring]


@pytest.fixture(scope="module")
def role_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleApp]:
    """One app, one account per role (with the keys its role needs), for the whole module."""
    config = make_config(tmp_path_factory.mktemp("roles") / "officer")
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    app = create_app(config)
    session: Session = make_session_factory(engine)()
    totp_key = load_or_create_totp_key(config.data_dir)
    init_unit_keys(session, "first", PASSPHRASES[Role.SUPERVISOR], config.wrap_params)
    holder = unlock(session, "first", PASSPHRASES[Role.SUPERVISOR], config.wrap_params)
    keyrings = {}
    for role in Role:
        name = f"the-{role.value.replace('_', '-')}"
        officer, _ = new_officer(
            name,
            PASSPHRASES[role],
            config.wrap_params,
            role=role,
            grants=held_secrets(holder, role),
            totp_key=totp_key,
        )
        session.add(officer)
        session.commit()
        keyrings[role] = unlock(session, name, PASSPHRASES[role], config.wrap_params)
    session.close()
    yield RoleApp(app, keyrings)
    engine.dispose()


def _client_as(role_app: RoleApp, role: Role):  # type: ignore[no-untyped-def]
    """A browser whose session names an unlocked keyring of ``role`` (login is tested apart)."""
    client = role_app.app.test_client()
    session_id = role_app.app.extensions[EXTENSION].keyrings.open(role_app.keyrings[role])
    with client.session_transaction() as cookie:
        cookie[KEYRING_SESSION_KEY] = session_id
    return client


def test_the_route_table_is_not_empty_and_covers_accounts_and_audit() -> None:
    endpoints = {endpoint for endpoint, _, _ in ROUTES}
    assert {"reports.index", "reports.detail", "admin.officers", "audit.entries"} <= endpoints
    assert "auth.login" not in endpoints


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize(("endpoint", "method", "url"), ROUTES, ids=lambda v: str(v))
def test_each_role_reaches_exactly_the_routes_its_permissions_allow(
    role_app: RoleApp, role: Role, endpoint: str, method: str, url: str
) -> None:
    view = role_app.app.view_functions[endpoint]
    permission = getattr(view, REQUIRED_PERMISSION, None)
    assert isinstance(permission, Permission), (
        f"{endpoint} declares no permission: decorate it with @permission_required(...) "
        "and add the permission to roles.ROLE_PERMISSIONS"
    )
    client = _client_as(role_app, role)
    token = csrf_token(client.get("/account/passphrase").get_data(as_text=True))

    response = client.open(url, method=method, data={"csrf_token": token})

    if permission in ROLE_PERMISSIONS[role]:
        assert response.status_code not in (403, 500), (role, method, url)
        if endpoint != "auth.logout":
            assert not response.headers.get("Location", "").endswith("/login"), "session lost"
    else:
        assert response.status_code == 403, (role, method, url, response.status_code)


def test_an_unmarked_view_is_refused_to_every_role(role_app: RoleApp) -> None:
    app = create_app(role_app.app.extensions[EXTENSION].config)
    app.add_url_rule("/forgotten", "forgotten", lambda: "open by omission")
    app.extensions[EXTENSION] = role_app.app.extensions[EXTENSION]
    for role in Role:
        client = app.test_client()
        session_id = app.extensions[EXTENSION].keyrings.open(role_app.keyrings[role])
        with client.session_transaction() as cookie:
            cookie[KEYRING_SESSION_KEY] = session_id
        response = client.get("/forgotten")
        assert response.status_code == 403
        assert "open by omission" not in response.get_data(as_text=True)


def test_admins_read_nothing_by_role_or_by_key(role_app: RoleApp) -> None:
    admin = role_app.keyrings[Role.ADMIN]
    assert admin.intake_keys == {} and admin.sync_key is None
    assert admin.signing_key is not None
    reading = {Permission.REPORTS_LIST, Permission.REPORTS_READ, Permission.IDENTITY_REVEAL}
    assert not reading & ROLE_PERMISSIONS[Role.ADMIN]
    for role in (Role.SUPERVISOR, Role.ANALYST, Role.TECHNICAL_EXPERT):
        assert role_app.keyrings[role].intake_keys, role
        assert role_app.keyrings[role].signing_key is None, role


def test_only_supervisors_reveal_identities_and_see_everyones_audit_entries() -> None:
    for permission in (Permission.IDENTITY_REVEAL, Permission.AUDIT_READ_ALL):
        assert [role for role in Role if permission in ROLE_PERMISSIONS[role]] == [Role.SUPERVISOR]


def test_every_role_has_a_row_and_every_permission_a_holder() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role) == set(ROLE_UNIT_KEYS)
    assert set().union(*ROLE_PERMISSIONS.values()) == set(Permission)
    assert all(Permission.SESSION in permissions for permissions in ROLE_PERMISSIONS.values())


def test_an_unknown_or_missing_role_has_no_permission() -> None:
    assert permissions_of("") == frozenset() and permissions_of("root") == frozenset()
    assert not has_permission(None, Permission.SESSION)
    assert not has_permission(UnlockedKeyring(username="x"), Permission.SESSION)


# --- service actions ------------------------------------------------------------------------

UNCHECKED = {
    # Bootstrap and recovery run before any account can act; each refuses when it must.
    "create_first_admin",
    "recover_unit",
    # Pure helpers.
    "generate_passphrase",
    "parse_recovery_secret",
    "key_kinds",
    "utc_now",
}


def _service_actions() -> list[tuple[str, object]]:
    found = []
    for module in (officers, grants, key_ops):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            own = function.__module__ == module.__name__ and not name.startswith("_")
            if own and name not in UNCHECKED:
                found.append((f"{module.__name__}.{name}", function))
    found.append(("custody.add_officer", custody.add_officer))
    found.append(("audit.list_entries", audit.list_entries))
    return found


SERVICES = _service_actions()


@pytest.mark.parametrize(("name", "function"), SERVICES, ids=[n for n, _ in SERVICES])
def test_every_service_action_declares_its_permission(name: str, function: object) -> None:
    assert isinstance(getattr(function, "required_permission", None), Permission), name


DENIED = [
    (name, function, role)
    for name, function in SERVICES
    for role in Role
    if getattr(function, "required_permission", None) not in ROLE_PERMISSIONS[role]
]


@pytest.mark.parametrize(
    ("name", "function", "role"), DENIED, ids=[f"{n}-{r.value}" for n, _, r in DENIED]
)
def test_a_service_action_refuses_a_role_without_its_permission(
    name: str, function: object, role: Role
) -> None:
    keyring = UnlockedKeyring(username="someone", role=role.value, officer_id=1)
    signature = inspect.signature(function)  # type: ignore[arg-type]
    principal = "actor" if "actor" in signature.parameters else "keyring"
    with pytest.raises(PermissionDenied):
        # The check comes before anything else: no database is touched.
        function(session=None, **{principal: keyring})  # type: ignore[operator]


def test_the_decorator_refuses_a_function_without_an_actor() -> None:
    with pytest.raises(TypeError):

        @requires(Permission.SESSION)
        def nobody_acts(session: object) -> None:
            return None
