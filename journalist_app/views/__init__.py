"""Blueprints by area of the officer UI, and the request plumbing they share."""
