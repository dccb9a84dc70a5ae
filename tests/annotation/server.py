"""Whether the local Label Studio server is there, and what a test does when it is not."""

from __future__ import annotations

import os

import pytest
import requests

from edu_affect_data.annotation.client import (
    LabelStudioNotConfigured,
    LabelStudioSettings,
    load_settings,
)


def server_or_reason() -> tuple[LabelStudioSettings | None, str]:
    try:
        settings = load_settings()
    except LabelStudioNotConfigured as exc:
        return None, str(exc)
    session = requests.Session()
    session.trust_env = False  # a local server: never through a proxy
    try:
        healthy = session.get(f"{settings.url}/health", timeout=5).status_code == 200
    except requests.RequestException as exc:
        return None, f"Label Studio at {settings.url} is not reachable ({type(exc).__name__})"
    return (settings, "") if healthy else (None, f"Label Studio at {settings.url} is not healthy")


def unavailable(reason: str) -> None:
    """Fail under CI (the server is part of `make test`), skip with the reason locally."""
    message = f"{reason}; start it with `bash scripts/labelstudio.sh start`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
