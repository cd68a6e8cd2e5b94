"""Accounts: an admin creates, resets and removes them; a key holder grants the keys."""

import re

import pyotp
import pytest
from sqlalchemy import func, select

from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.keys import WRAP_PARAMS_FAST
from journalist_app.accounts import officers, resets
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.errors import (
    BadCredentials,
    KeyWouldBeLost,
    OfficerExists,
    PermissionDenied,
)
from journalist_app.keys import grants
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, KeyGrant, Officer
from journalist_app.models.officer import LoginThrottle
from journalist_app.roles import Role


def _keyring(db, login):  # type: ignore[no-untyped-def]
    return unlock(db, login.username, login.passphrase, WRAP_PARAMS_FAST)


def _officer(db, username: str) -> Officer:
    db.expire_all()
    officer = db.scalar(select(Officer).where(Officer.username == username))
    assert officer is not None
    return officer


def _grants(db, username: str) -> int:
    officer = _officer(db, username)
    return (
        db.scalar(
            select(func.count()).select_from(KeyGrant).where(KeyGrant.officer_id == officer.id)
        )
        or 0
    )


def _actions(db) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.action, e.target)
        for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]


# --- the way in for a new officer, through the web ------------------------------------------


def test_admin_creates_officer_chooses_passphrase_supervisor_grants_then_they_read(
    app, client, auth, auth_for, db, unit, make_officer, mailbox
) -> None:
    admin = make_officer("admin")
    submission = mailbox.add_report({"v": 1, "category": "fraud", "description": "for nadia"})
    client.get("/login?lang=en")
    auth.login(admin.username, admin.passphrase)
    token = auth.csrf("/admin/officers/new")
    page = client.post(
        "/admin/officers/new", data={"csrf_token": token, "username": "nadia", "role": "analyst"}
    ).get_data(as_text=True)
    one_time = re.search(r'<code dir="ltr" class="secret">([A-Za-z0-9_-]{24})</code>', page).group(
        1
    )
    secret = re.search(r'<code dir="ltr" class="secret">([A-Z2-7]{32})</code>', page).group(1)
    assert "otpauth://totp/Iblagh:nadia?secret=" in page
    assert "Shown this once" in page
    # The admin page lists the account as waiting; nothing secret is shown again.
    listing = client.get("/admin/officers").get_data(as_text=True)
    assert "Waiting for the officer to choose a passphrase" in listing
    assert one_time not in listing and secret not in listing
    assert _grants(db, "nadia") == 0
    auth.logout()

    # First login: the one-time passphrase leads to one page only.
    newcomer = app.test_client()
    newcomer.get("/login?lang=en")
    nadia = auth_for(newcomer)
    assert (
        nadia.login("nadia", one_time, pyotp.TOTP(secret).now()).headers["Location"]
        == "/account/passphrase"
    )
    assert newcomer.get("/").headers["Location"] == "/account/passphrase"
    own = "her own words, known to her only"
    token = nadia.csrf("/account/passphrase")
    response = newcomer.post(
        "/account/passphrase",
        data={"csrf_token": token, "current": one_time, "new": own, "repeat": own},
    )
    assert response.status_code == 302
    # Still no key: an admin held none to give, and none is given to a one-time passphrase.
    nadia.sync()
    assert "holds no sync key" in newcomer.get("/?lang=en").get_data(as_text=True)
    assert _grants(db, "nadia") == 0

    # A supervisor sees her waiting and grants.
    auth.login()
    waiting = client.get("/keys/grants").get_data(as_text=True)
    assert "nadia" in waiting
    response = client.post("/keys/grants/nadia", data={"csrf_token": auth.csrf("/keys/grants")})
    assert response.status_code == 302
    assert "No account is waiting" in client.get("/keys/grants").get_data(as_text=True)
    assert _grants(db, "nadia") == 2  # intake and sync

    # Her open session holds the keys of her login: she logs in again to use the new ones.
    nadia.logout()
    nadia.login("nadia", own)
    nadia.sync()
    assert "for nadia" in newcomer.get(f"/reports/{submission.id}").get_data(as_text=True)
    actions = _actions(db)
    assert (admin.username, "account.created", "officer:nadia") in actions
    assert ("nadia", "account.passphrase_changed", "officer:nadia") in actions
    assert (unit.username, "keys.granted", "officer:nadia") in actions


def test_an_account_with_a_one_time_passphrase_gets_no_grant(db, config, unit, make_officer):
    admin = make_officer("admin")
    holder = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    created = officers.create_officer(
        db,
        _keyring(db, admin),
        "karim",
        Role.ADMIN,
        params=config.wrap_params,
        totp_key=load_or_create_totp_key(config.data_dir),
    )
    assert created.one_time_passphrase and created.granted == ()
    with pytest.raises(PermissionDenied, match="has not chosen"):
        grants.grant_keys(db, holder, "karim")
    assert grants.pending_grants(db, holder) == []


@pytest.mark.parametrize("username", ["KARIM", "Karim", "karim"])
def test_a_username_differing_only_in_case_is_taken(db, config, make_officer, username) -> None:
    # "KARIM" beside "karim" would read as one officer in the audit log and on every page.
    admin = make_officer("admin")
    make_officer(Role.ANALYST.value, "karim")

    with pytest.raises(OfficerExists):
        officers.create_officer(
            db,
            _keyring(db, admin),
            username,
            Role.ANALYST,
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
        )
    assert db.scalar(select(func.count()).where(func.lower(Officer.username) == "karim")) == 1


# --- resets ---------------------------------------------------------------------------------


def test_a_passphrase_reset_makes_a_new_key_pair_and_drops_the_old_grants(
    db, config, unit, make_officer
) -> None:
    analyst = make_officer("analyst")
    admin = make_officer("admin")
    before = _officer(db, analyst.username).public_key
    assert _grants(db, analyst.username) == 2

    one_time = officers.reset_passphrase(
        db, _keyring(db, admin), analyst.username, params=config.wrap_params
    )

    officer = _officer(db, analyst.username)
    assert officer.public_key != before and officer.must_change_passphrase
    assert officer.session_epoch == 1 and _grants(db, analyst.username) == 0
    with pytest.raises(BadCredentials):
        unlock(db, analyst.username, analyst.passphrase, config.wrap_params)
    assert unlock(db, analyst.username, one_time, config.wrap_params).intake_keys == {}
    assert (admin.username, "account.passphrase_reset", f"officer:{analyst.username}") in _actions(
        db
    )


def test_a_reset_admin_gets_the_signing_key_back_from_the_resetting_admin(
    db, config, unit, make_officer
):
    first, second = make_officer("admin"), make_officer("admin")
    one_time = officers.reset_passphrase(
        db, _keyring(db, first), second.username, params=config.wrap_params
    )
    assert unlock(db, second.username, one_time, config.wrap_params).signing_key is not None


def test_nobody_resets_or_removes_their_own_account_from_the_admin_pages(db, config, make_officer):
    admin = make_officer("admin")
    keyring = _keyring(db, admin)
    with pytest.raises(PermissionDenied):
        officers.reset_passphrase(db, keyring, admin.username, params=config.wrap_params)
    with pytest.raises(PermissionDenied):
        officers.remove_officer(db, keyring, admin.username)


def test_a_2fa_reset_on_the_web_ends_sessions_and_old_codes_stop_working(
    app, client, auth, auth_for, db, unit, make_officer
) -> None:
    admin = make_officer("admin")
    victim = app.test_client()
    victim_auth = auth_for(victim)
    assert victim_auth.login().status_code == 302
    old_code = pyotp.TOTP(unit.totp_secret).now()
    auth.login(admin.username, admin.passphrase)

    page = client.post(
        f"/admin/officers/{unit.username}/reset-2fa",
        data={"csrf_token": auth.csrf("/admin/officers")},
    ).get_data(as_text=True)

    new_secret = re.search(r'class="secret">([A-Z2-7]{32})<', page).group(1)
    assert new_secret != unit.totp_secret
    assert victim.get("/").headers["Location"].endswith("/login")
    assert victim_auth.login(code=old_code).status_code == 401
    assert (admin.username, "account.totp_reset", f"officer:{unit.username}") in _actions(db)


def test_a_passphrase_reset_on_the_web_shows_the_one_time_passphrase_once(
    client, auth, db, make_officer
) -> None:
    admin = make_officer("admin")
    analyst = make_officer("analyst")
    auth.login(admin.username, admin.passphrase)
    page = client.post(
        f"/admin/officers/{analyst.username}/reset-passphrase",
        data={"csrf_token": auth.csrf("/admin/officers")},
    ).get_data(as_text=True)
    one_time = re.search(r'class="secret">([A-Za-z0-9_-]{24})<', page).group(1)
    assert one_time not in client.get("/admin/officers").get_data(as_text=True)
    assert _officer(db, analyst.username).must_change_passphrase


# --- an admin's reset is no takeover (issue 9, finding 10) -----------------------------------


def _take_over(app, auth_for, db, config, admin, victim) -> tuple[str, object]:
    """What an admin can do alone: reset both factors and log in as ``victim``."""
    keyring = _keyring(db, admin)
    one_time = officers.reset_passphrase(db, keyring, victim.username, params=config.wrap_params)
    enrolment = officers.reset_second_factor(
        db, keyring, victim.username, totp_key=load_or_create_totp_key(config.data_dir)
    )
    impostor = app.test_client()
    as_victim = auth_for(impostor)
    assert (
        as_victim.login(victim.username, one_time, pyotp.TOTP(enrolment.secret).now()).status_code
        == 302
    )
    chosen = "the admin's own words for someone else's account"
    response = impostor.post(
        "/account/passphrase",
        data={
            "csrf_token": as_victim.csrf("/account/passphrase"),
            "current": one_time,
            "new": chosen,
            "repeat": chosen,
        },
    )
    assert response.status_code == 302
    db.expire_all()
    return chosen, impostor


def test_an_admin_who_resets_a_supervisor_gets_no_key_when_a_colleague_grants(
    app, auth_for, db, config, unit, make_officer
) -> None:
    admin = make_officer("admin")
    sara = make_officer("supervisor", "sara")
    chosen, _ = _take_over(app, auth_for, db, config, admin, sara)

    # A colleague who holds the keys sees no account to grant, and granting is refused.
    colleague = _keyring(db, unit)
    assert [p.username for p in grants.pending_grants(db, colleague)] == []
    with pytest.raises(PermissionDenied, match="must approve"):
        grants.grant_keys(db, colleague, "sara")
    assert _grants(db, "sara") == 0
    held = unlock(db, "sara", chosen, config.wrap_params)
    assert held.identity_keys == {} and held.intake_keys == {}


def test_only_a_supervisor_other_than_the_admin_and_the_officer_approves_a_reset(
    app, auth_for, db, config, unit, make_officer
) -> None:
    admin = make_officer("admin")
    other_admin = make_officer("admin")
    sara = make_officer("supervisor", "sara")
    chosen, _ = _take_over(app, auth_for, db, config, admin, sara)

    for refused in (admin, other_admin):
        with pytest.raises(PermissionDenied):
            resets.approve_reset(db, _keyring(db, refused), "sara")
    with pytest.raises(PermissionDenied):
        resets.approve_reset(db, unlock(db, "sara", chosen, config.wrap_params), "sara")

    resets.approve_reset(db, _keyring(db, unit), "sara")
    assert [p.username for p in grants.pending_grants(db, _keyring(db, unit))] == ["sara"]
    grants.grant_keys(db, _keyring(db, unit), "sara")
    assert unlock(db, "sara", chosen, config.wrap_params).identity_keys
    actions = _actions(db)
    assert (unit.username, "account.reset_approved", "officer:sara") in actions


def test_a_reset_cannot_be_approved_before_the_officer_chose_their_passphrase(
    db, config, unit, make_officer
) -> None:
    admin = make_officer("admin")
    analyst = make_officer("analyst")
    officers.reset_passphrase(db, _keyring(db, admin), analyst.username, params=config.wrap_params)
    with pytest.raises(PermissionDenied, match="has not chosen"):
        resets.approve_reset(db, _keyring(db, unit), analyst.username)


def test_the_keys_page_lists_resets_to_approve_and_approves_with_a_confirmation(
    app, client, auth, auth_for, db, config, unit, make_officer
) -> None:
    admin = make_officer("admin")
    sara = make_officer("supervisor", "sara")
    _take_over(app, auth_for, db, config, admin, sara)
    client.get("/login?lang=en")
    auth.login()
    page = client.get("/keys/grants").get_data(as_text=True)
    assert "Passphrase resets to approve" in page and f"reset by {admin.username}" in page
    token = auth.csrf("/keys/grants")
    unconfirmed = client.post("/keys/resets/sara/approve", data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and _grants(db, "sara") == 0
    approved = client.post(
        "/keys/resets/sara/approve", data={"csrf_token": token, "confirmed": "y"}
    )
    assert approved.status_code == 302
    assert "sara" in client.get("/keys/grants").get_data(as_text=True)
    assert (unit.username, "account.reset_approved", "officer:sara") in _actions(db)


# --- own passphrase -------------------------------------------------------------------------


def test_changing_ones_passphrase_keeps_every_key_and_ends_other_sessions(
    app, client, auth, auth_for, db, config, unit
) -> None:
    other = app.test_client()
    assert auth_for(other).login().status_code == 302
    auth.login()
    before = _officer(db, unit.username).public_key
    new = "a brand new passphrase, long"
    response = client.post(
        "/account/passphrase",
        data={
            "csrf_token": auth.csrf("/account/passphrase"),
            "current": unit.passphrase,
            "new": new,
            "repeat": new,
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200, "this session goes on"
    assert other.get("/").headers["Location"].endswith("/login"), "the other one ends"
    assert _officer(db, unit.username).public_key != before
    keyring = unlock(db, unit.username, new, config.wrap_params)
    envelope = seal_bytes(
        b"still mine", unit.recipient_set.public_keys(), EnvelopeMetadata(kind="report")
    )
    assert open_bytes(envelope, keyring.intake_identities())[1] == b"still mine"
    assert keyring.signing_key is not None and keyring.sync_key is not None


def test_a_wrong_current_passphrase_counts_as_a_failed_login(client, auth, db, unit) -> None:
    auth.login()
    response = client.post(
        "/account/passphrase",
        data={
            "csrf_token": auth.csrf("/account/passphrase"),
            "current": "not my passphrase at all",
            "new": "whatever new passphrase",
            "repeat": "whatever new passphrase",
        },
    )
    assert response.status_code == 400
    assert [row.failures for row in db.scalars(select(LoginThrottle))] == [1]


# --- removal --------------------------------------------------------------------------------


def test_removing_an_officer_deletes_their_grants(db, config, unit, make_officer) -> None:
    analyst = make_officer("analyst")
    admin = make_officer("admin")
    officer_id = _officer(db, analyst.username).id
    assert officers.remove_officer(db, _keyring(db, admin), analyst.username) == 2
    left = db.scalar(
        select(func.count()).select_from(KeyGrant).where(KeyGrant.officer_id == officer_id)
    )
    assert left == 0
    assert (admin.username, "account.removed", f"officer:{analyst.username}") in _actions(db)


def test_the_last_holder_of_a_key_is_removed_only_when_forced(db, config, unit, make_officer):
    admin = make_officer("admin")
    keyring = _keyring(db, admin)
    with pytest.raises(KeyWouldBeLost, match="identity, intake"):
        officers.remove_officer(db, keyring, unit.username)
    # Her intake, identity, signing and sync grants.
    assert officers.remove_officer(db, keyring, unit.username, force=True) == 4


def test_the_admin_page_removes_and_refuses_the_last_holder_politely(
    client, auth, db, unit, make_officer
):
    admin = make_officer("admin")
    client.get("/login?lang=en")
    auth.login(admin.username, admin.passphrase)
    token = auth.csrf("/admin/officers")
    client.post(f"/admin/officers/{unit.username}/remove", data={"csrf_token": token})
    analyst = make_officer("analyst")
    assert "last holder of an active unit key" in client.get("/admin/officers").get_data(
        as_text=True
    )
    client.post(f"/admin/officers/{analyst.username}/remove", data={"csrf_token": token})
    assert db.scalar(select(Officer).where(Officer.username == analyst.username)) is None
    assert (
        client.post("/admin/officers/nobody/remove", data={"csrf_token": token}).status_code == 404
    )


def test_the_account_list_shows_roles_keys_and_what_is_missing(client, auth, make_officer) -> None:
    admin = make_officer("admin")
    make_officer("technical_expert", "tariq", with_keys=False)
    client.get("/login?lang=en")
    auth.login(admin.username, admin.passphrase)
    page = client.get("/admin/officers").get_data(as_text=True)
    assert "Technical expert" in page and "Supervisor" in page
    assert "Still needs: intake keys" in page
