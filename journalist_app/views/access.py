"""Permissions at the edge: each view names the permission it needs (roles.py).

``@permission_required(Permission.X)`` checks the logged-in officer's role and marks the
view; the guard refuses any endpoint left unmarked (fail closed), and a test walks the
URL map, so a new route without a rule cannot ship.
"""

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, abort, current_app, g, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from journalist_app.roles import ROLE_LABELS, Permission, Role, has_permission

P = ParamSpec("P")
R = TypeVar("R")
REQUIRED_PERMISSION = "required_permission"


def permission_required(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if not has_permission(g.get("keyring"), permission):
                abort(403)
            return view(*args, **kwargs)

        setattr(checked, REQUIRED_PERMISSION, permission)
        return checked

    return decorate


def required_permission(endpoint: str | None) -> Permission | None:
    """The permission the view behind ``endpoint`` declared, if any."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    permission = getattr(view, REQUIRED_PERMISSION, None)
    return permission if isinstance(permission, Permission) else None


def home_endpoint(role: str) -> str:
    """Where an officer lands after login: admins have no report list."""
    return "admin.officers" if role == Role.ADMIN.value else "reports.index"


def forbidden(error: HTTPException) -> tuple[str, int]:
    return render_template(
        "error.html", message=_("Your role does not allow this page or action.")
    ), 403


def _template_helpers() -> dict[str, Any]:
    def can(permission: str) -> bool:
        return has_permission(g.get("keyring"), Permission(permission))

    def role_label(role: str) -> str:
        try:
            return str(ROLE_LABELS[Role(role)])
        except ValueError:
            return role

    return {"can": can, "role_label": role_label, "home_endpoint": home_endpoint}


def init_app(app: Flask) -> None:
    app.register_error_handler(403, forbidden)
    app.context_processor(_template_helpers)
