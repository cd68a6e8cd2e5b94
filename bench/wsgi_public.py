"""WSGI entry for the bench, used while ``source_app.wsgi:public_app`` does not exist."""

from source_app import create_app

app = create_app()
