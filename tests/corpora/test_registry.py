"""The corpus registry: entry points by name, programmatic registration, each reader's own options."""

from __future__ import annotations

from importlib import metadata
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from edu_affect_data.corpora import registry
from edu_affect_data.corpora.iemocap import CORPUS as IEMOCAP
from edu_affect_data.corpora.mosei import CORPUS as MOSEI
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.registry import (
    GROUP,
    CorpusRegistryError,
    corpus_names,
    get_corpus,
    read_corpus,
    register_corpus,
    unregister_corpus,
)
from tests.plugins.toy_corpus import CORPUS as TOY


def test_the_built_in_corpora_are_declared_in_code_not_in_install_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.CORPORA.builtin_names() == ("iemocap", "mosei")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [])  # an installation without metadata
    monkeypatch.setattr(registry.CORPORA, "_loaded", {})
    assert {"iemocap", "mosei"} <= set(corpus_names())
    assert get_corpus("iemocap") is IEMOCAP and get_corpus("mosei") is MOSEI


def test_read_corpus_passes_options(mosei_root: Path, tmp_path: Path) -> None:
    speakers = tmp_path / "s.csv"
    speakers.write_text("123456,p1\n")
    manifest = read_corpus("mosei", mosei_root, speaker_map=speakers, executor=None)
    assert manifest.corpus == "mosei"
    assert {u.speaker_id for u in manifest.utterances if u.recording_id == "123456"} == {"p1"}


def test_unknown_corpus_and_unknown_option_are_errors(mosei_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown corpus 'meld'"):
        read_corpus("meld", tmp_path)
    with pytest.raises(ValueError, match=r"corpora\.mosei\.speakers: Extra inputs .*options of corpus mosei: speaker_map"):
        read_corpus("mosei", mosei_root, speakers="x.csv")


def test_a_plugin_found_through_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an installed third-party package looks like: its entry point is loaded on first use."""
    found = [*metadata.entry_points(group=GROUP), EntryPoint("toy", "tests.plugins.toy_corpus:CORPUS", GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [p for p in found if p.group == group])
    monkeypatch.setattr(registry.CORPORA, "_loaded", {})
    assert "toy" in corpus_names() and get_corpus("toy") is TOY
    broken = [*found, EntryPoint("broken", "tests.plugins.no_such_module:CORPUS", GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: broken)
    with pytest.raises(CorpusRegistryError, match="corpus 'broken': cannot load entry point"):
        get_corpus("broken")
    wrong = [EntryPoint("other", "tests.plugins.toy_corpus:CORPUS", GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: wrong)
    with pytest.raises(CorpusRegistryError, match="is not a CorpusPlugin named 'other'"):
        get_corpus("other")


def test_register_corpus_refuses_a_taken_name() -> None:
    register_corpus(TOY)
    try:
        assert get_corpus("toy") is TOY and register_corpus(TOY) is TOY  # the same plugin twice is fine
        clone = CorpusPlugin("toy", TOY.read, "Other toy", "d", "s")
        with pytest.raises(CorpusRegistryError, match="'toy' is already registered"):
            register_corpus(clone)
        with pytest.raises(CorpusRegistryError, match="'mosei' is already registered"):
            register_corpus(CorpusPlugin("mosei", TOY.read, "t", "d", "s"))
        assert register_corpus(clone, replace=True) is clone and get_corpus("toy") is clone
    finally:
        unregister_corpus("toy")
    with pytest.raises(CorpusRegistryError, match="unknown corpus 'toy'"):
        get_corpus("toy")


def test_plugin_names_and_options_are_checked() -> None:
    with pytest.raises(ValueError, match="must match"):
        CorpusPlugin("Bad-Name", TOY.read, "t", "d", "s")

    from edu_affect_data.core.strict_config import StrictModel

    class RootOption(StrictModel):
        root: str = "x"

    with pytest.raises(ValueError, match=r"options may not be called \['root'\]"):
        CorpusPlugin("toy2", TOY.read, "t", "d", "s", options=RootOption)


def test_a_reader_must_label_its_records_with_its_own_name(mosei_root: Path) -> None:
    impostor = CorpusPlugin("impostor", MOSEI.read, "t", "d", "s", options=MOSEI.options)
    with pytest.raises(ValueError, match=r"corpus impostor: its reader labelled records as \['mosei'\]"):
        impostor.read_corpus(mosei_root)
