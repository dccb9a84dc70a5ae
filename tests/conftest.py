"""Shared fixtures. `tiny_corpora`: the synthetic corpora of the `tiny` profile, built once per run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT folder holding `IEMOCAP_full_release/`, `CMU_MOSEI/` and `synth_truth.json` (profile tiny, seed 0)."""
    from edu_affect_data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("tiny_corpora"), "tiny", 0)
