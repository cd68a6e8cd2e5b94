"""Blueprints of the public host: the public pages and the sync API, never on one listener."""
