"""Same profile and seed give byte-identical corpora, whatever executor renders them."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edu_affect_data.synth import synthesize


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_tiny_twice_is_byte_identical(tiny_corpora: Path, tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        again = synthesize(tmp_path / "again", "tiny", 0, executor=pool)
    first, second = _hashes(tiny_corpora), _hashes(again)
    assert len(first) > 100
    assert first == second


def test_refuses_to_write_over_a_corpus_unless_asked(tiny_corpora: Path) -> None:
    with pytest.raises(FileExistsError, match="overwrite"):
        synthesize(tiny_corpora, "tiny", 0)


def test_unknown_profile_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        synthesize(tmp_path, "huge", 0)
