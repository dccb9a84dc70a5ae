"""CLI commands of the train area (registered on the shared typer app)."""

from __future__ import annotations

from edu_affect_data.cli import app  # noqa: F401
