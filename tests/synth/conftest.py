"""Fixtures of the synthetic-corpora tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def truth(tiny_corpora: Path) -> dict:
    """`synth_truth.json` of the shared `tiny_corpora` (test_noise.py has its own: the noisy build's)."""
    return json.loads((tiny_corpora / "synth_truth.json").read_text())
