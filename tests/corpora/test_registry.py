"""The corpus registry dispatches by name with each reader's own options."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_affect_data.corpora.registry import READERS, read_corpus


def test_registry_names_both_readers() -> None:
    assert sorted(READERS) == ["iemocap", "mosei"]


def test_read_corpus_passes_options(mosei_root: Path, tmp_path: Path) -> None:
    speakers = tmp_path / "s.csv"
    speakers.write_text("123456,p1\n")
    manifest = read_corpus("mosei", mosei_root, speaker_map=speakers, executor=None)
    assert manifest.corpus == "mosei"
    assert {u.speaker_id for u in manifest.utterances if u.recording_id == "123456"} == {"p1"}


def test_unknown_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown corpus 'meld'"):
        read_corpus("meld", tmp_path)
