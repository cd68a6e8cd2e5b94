"""The declarative base of the officer host's models."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
