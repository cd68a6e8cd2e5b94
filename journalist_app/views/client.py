"""Which client a request came from, as login throttling counts it (accounts/throttle.py)."""

from flask import request

from journalist_app.accounts.throttle import client_tag, load_or_create_client_key
from journalist_app.views.context import state


def current_client() -> str:
    """A keyed hash of the peer address. No proxy header is trusted: on the isolated
    officer host the peer is the officer's machine."""
    key = load_or_create_client_key(state().config.data_dir)
    return client_tag(key, request.remote_addr or "")
