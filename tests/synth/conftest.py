"""Fixtures of the synthetic-corpora tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def truth(tiny_corpora: Path) -> dict:
    """`synth_truth.json` of the shared `tiny_corpora` (test_noise.py has its own: the noisy build's)."""
    return json.loads((tiny_corpora / "synth_truth.json").read_text())


@pytest.fixture(scope="session")
def text_of(tiny_corpora: Path) -> dict[str, str]:
    """Unit id -> its text as the transcript files hold it (IEMOCAP transcriptions, MOSEI segments)."""
    texts = {}
    for path in tiny_corpora.glob("CMU_MOSEI/Raw/Transcript/Segmented/Combined/*.txt"):
        for line in path.read_text().splitlines():
            vid, seg, _, _, text = line.split("___", 4)
            texts[f"{vid}_{seg}"] = text
    for path in tiny_corpora.glob("IEMOCAP_full_release/Session*/dialog/transcriptions/*.txt"):
        for line in path.read_text().splitlines():
            if "]: " in line:
                texts[line.split(" ", 1)[0]] = line.split("]: ", 1)[1]
    return texts
