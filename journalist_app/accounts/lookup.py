"""Finding officer accounts, with their grants loaded: shared by accounts and key grants."""

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from journalist_app.errors import OfficerNotFound
from journalist_app.models import Officer


def officer_named(session: Session, username: str) -> Officer:
    """The account called ``username``; :class:`OfficerNotFound` if there is none."""
    officer = session.scalar(
        select(Officer).where(Officer.username == username).options(selectinload(Officer.grants))
    )
    if officer is None:
        raise OfficerNotFound(f"no officer named {username!r}")
    return officer


def all_officers(session: Session) -> list[Officer]:
    """Every account, by username."""
    return list(
        session.scalars(
            select(Officer).options(selectinload(Officer.grants)).order_by(Officer.username)
        )
    )
