"""Mounts the server-rendered web app on the API's FastAPI application (being built: issue 6)."""

from __future__ import annotations

from fastapi import FastAPI

from huancui.kit.settings import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Adds the web app's routes and static files to `app`."""
