"""An officer's security keys (WebAuthn): the list, adding one, removing one; and the
ceremony helpers the login page shares (relying party, one challenge per page).

The page's script (static/webauthn.js, same origin, no inline code, no fetch: the CSP
allows neither) reads the options from a ``data-`` attribute, asks the browser, puts
the key's answer in a hidden field and submits the form. Without JavaScript the pages
say a security key needs it, and the TOTP code keeps working.
"""

import urllib.parse
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from werkzeug.wrappers import Response

from journalist_app.accounts import security_keys
from journalist_app.accounts.security_keys import (
    Ceremony,
    RelyingParty,
    SecurityKeyNameInvalid,
    SecurityKeyRefused,
)
from journalist_app.errors import AccountLocked, BadCredentials, CorruptGrant, OfficerNotFound
from journalist_app.roles import Permission
from journalist_app.views.access import permission_required
from journalist_app.views.client import current_client
from journalist_app.views.context import db
from journalist_app.views.forms import ActionForm, RegisterSecurityKeyForm

blueprint = Blueprint("security_keys", __name__, url_prefix="/security-keys")

LOGIN = "login"
REGISTRATION = "registration"
_SESSION_PREFIX = "webauthn_"


def relying_party() -> RelyingParty:
    """The host name the browser used is the relying party; HTTPS origins, and plain HTTP
    only for a ``localhost`` name (the one a browser allows WebAuthn on without TLS).

    Behind a proxy, the proxy must pass the browser's ``Host`` on.
    """
    host = request.host
    name = (urllib.parse.urlsplit("//" + host).hostname or "").lower()
    origins = [f"https://{host}"]
    if name == "localhost" or name.endswith(".localhost"):
        origins.append(f"http://{host}")
    return RelyingParty(rp_id=name, origins=tuple(origins))


def start_ceremony(purpose: str) -> Ceremony:
    """A fresh challenge for this page, remembered in the signed session cookie."""
    ceremony = security_keys.new_ceremony()
    session[_SESSION_PREFIX + purpose] = {
        "challenge": bytes_to_base64url(ceremony.challenge),
        "issued_at": ceremony.issued_at.isoformat(),
    }
    return ceremony


def take_ceremony(purpose: str) -> Ceremony | None:
    """The challenge this browser was given, forgotten as it is read (one answer per page;
    the database refuses a second use of it too, so an old cookie replayed is no help)."""
    kept = session.pop(_SESSION_PREFIX + purpose, None)
    try:
        return Ceremony(
            challenge=base64url_to_bytes(kept["challenge"]),
            issued_at=datetime.fromisoformat(kept["issued_at"]),
        )
    except (TypeError, KeyError, ValueError):
        return None


@blueprint.route("", methods=["GET", "POST"])
@permission_required(Permission.SESSION)
def keys() -> Response | str | tuple[str, int]:
    form = RegisterSecurityKeyForm()
    if not form.is_submitted():
        return _page(form)
    ceremony = take_ceremony(REGISTRATION)
    if not form.validate() or ceremony is None:
        flash(_("The security key was not added: try again."), "error")
        return _page(form), 400
    try:
        security_keys.register_key(
            db(),
            g.keyring,
            name=form.name.data or "",
            passphrase=form.passphrase.data or "",
            registration=form.registration.data or "",
            prf_output=security_keys.decode_prf(form.prf.data or ""),
            ceremony=ceremony,
            rp=relying_party(),
            client=current_client(),
        )
    except SecurityKeyNameInvalid:
        flash(_("Give the key a name of 1 to 64 characters."), "error")
        return _page(form), 400
    except SecurityKeyRefused:
        flash(_("The security key's answer could not be checked. Nothing was added."), "error")
        return _page(form), 400
    except (BadCredentials, CorruptGrant) as exc:
        if isinstance(exc, AccountLocked):
            flash(_("Too many wrong passphrases from here: wait, then try again."), "error")
        else:
            flash(_("The current passphrase is wrong."), "error")
        return _page(form), 400
    flash(_("Security key %(name)s added.", name=" ".join((form.name.data or "").split())), "info")
    return redirect(url_for("account.security_keys.keys"))


@blueprint.post("/<int:key_id>/remove")
@permission_required(Permission.SESSION)
def remove(key_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        name = security_keys.remove_key(db(), g.keyring, key_id)
    except OfficerNotFound:
        abort(404)
    flash(_("Security key %(name)s removed.", name=name), "info")
    return redirect(url_for("account.security_keys.keys"))


def _page(form: RegisterSecurityKeyForm) -> str:
    ceremony = start_ceremony(REGISTRATION)
    return render_template(
        "account/security_keys.html",
        form=form,
        remove_form=ActionForm(),
        keys=security_keys.keys_of(db(), g.keyring.officer_id),
        creation_options=security_keys.registration_options(
            db(), g.keyring, relying_party(), ceremony
        ),
        prf_salt=security_keys.prf_salt_b64url(),
    )
