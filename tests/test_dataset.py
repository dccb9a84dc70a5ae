"""Publish: load_dataset round trip with the exact features, torch format, shard limits, the card."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from edu_affect_data import CLASSES
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.features.schema import dataset_features
from tests.features.fake_build import published_build, small_config

MB = 1024 * 1024


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    return published_build(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def loaded(build: BuildPaths) -> datasets.DatasetDict:
    return datasets.load_dataset(str(build.dataset))


def test_load_dataset_gives_three_splits_with_the_declared_features(
    build: BuildPaths, loaded: datasets.DatasetDict
) -> None:
    assert set(loaded) == {"train", "validation", "test"}
    expected = dataset_features(small_config(), hidden_size=384)
    assignment = pq.read_table(build.assignment).to_pandas()
    for split, rows in loaded.items():
        assert rows.features == expected
        wanted = sorted(assignment.loc[assignment["split"] == split, "session_id"])
        assert rows["session_id"] == wanted


def test_rows_hold_the_extracted_values(build: BuildPaths, loaded: datasets.DatasetDict) -> None:
    row = loaded["train"].with_format("numpy")[0]
    def part(extractor: str) -> dict:
        path = next((build.features_dir / extractor).glob(f"{row['session_id']}--*.parquet"))
        return datasets.Dataset.from_parquet(str(path)).with_format("numpy")[0]

    np.testing.assert_array_equal(row["mfcc"], part("mfcc")["mfcc"])
    np.testing.assert_array_equal(row["frame_times"], part("frames")["frame_times"])
    labels = pq.read_table(build.labels).to_pandas().set_index("session_id")
    assert CLASSES[int(row["label"])] == labels.loc[row["session_id"], "label"]
    assert list(row["votes"]) == list(labels.loc[row["session_id"], "votes"])


def test_torch_format_yields_tensors(loaded: datasets.DatasetDict) -> None:
    import torch

    row = loaded["test"].with_format("torch")[0]
    assert (
        row["mfcc"].ndim == 2 and row["mfcc"].shape[1] == 40 and row["mfcc"].dtype == torch.float32
    )
    assert tuple(row["frames"].shape[1:]) == (3, 224, 224) and row["frames"].dtype == torch.uint8
    assert (
        row["frames"].shape[0]
        == row["frame_times"].shape[0]
        == row["frame_available"].shape[0]
        == 10
    )
    assert tuple(row["token_embeddings"].shape) == (128, 384)
    assert row["input_ids"].shape == row["token_start_s"].shape == (128,)


def test_shards_and_row_groups_respect_the_limits(build: BuildPaths) -> None:
    shards = sorted((build.dataset / "data").glob("*.parquet"))
    names = {p.name.split("-")[0] for p in shards}
    assert names == {"train", "validation", "test"}
    train = [p for p in shards if p.name.startswith("train-")]
    assert len(train) > 1 and f"-of-{len(train):05d}-" in train[-1].name
    for shard in shards:
        # The caps are in Arrow's uncompressed bytes, as `datasets` measures shards (the file adds
        # Parquet's page overhead on top); a table read back counts its buffers a little
        # differently from the rows the writer measured (0.1 % here), hence the 1 % margin.
        file = pq.ParquetFile(shard)
        assert file.read().nbytes <= 1.01 * MB
        for group in range(file.num_row_groups):
            table = file.read_row_group(group)
            # a group may exceed the cap only when it is a single row
            assert table.nbytes <= 1.01 * MB or table.num_rows == 1


def test_card_reports_statistics_funnel_provenance_licence_citation(
    build: BuildPaths, loaded: datasets.DatasetDict
) -> None:
    card = (build.dataset / "README.md").read_text()
    train = loaded["train"]
    counts = [sum(1 for label in train["label"] if label == i) for i in range(4)]
    assert f"| train | {len(train)} |" in card
    assert " | ".join(str(c) for c in counts) + " |" in card
    assert "| candidate sessions | " in card and "| removed: gap | 3 |" in card
    for needle in (
        "config_name: default",
        "dataset_info:",
        '"max_shard_mb": 1',
        "datasets ",
        "derived from licensed corpora",
        "ICMLA",
        "busso2008iemocap",
        "zadeh2018mosei",
        "never uploads",
    ):
        assert needle in card, needle


def test_publish_reads_the_index_and_names_what_is_missing(build: BuildPaths, tmp_path: Path) -> None:
    import re
    import shutil

    from edu_affect_data.stages.features.index import FeaturesIndexError, read_index
    from edu_affect_data.stages.publish import PublishError, run_publish

    for folder in ("manifest", "annotation", "splits", "features"):
        shutil.copytree(build.out / folder, tmp_path / folder)
    paths = BuildPaths(tmp_path)
    index = read_index(paths)
    assert [e.session_id for e in index.entries] == pq.read_table(build.features_index)["session_id"].to_pylist()
    assert list(index.extractors) == ["mfcc", "frames", "text"]
    victim = index.entries[0].parts[1]
    (paths.features_dir / victim.path).unlink()
    with pytest.raises(PublishError, match=re.escape(f"{victim.path}: feature part missing")):
        run_publish(small_config(), paths)
    paths.features_index.unlink()
    with pytest.raises(FeaturesIndexError, match=r"index\.parquet: missing"):
        run_publish(small_config(), paths)


def test_the_card_holds_no_path_of_the_build_machine(
    build: BuildPaths, loaded: datasets.DatasetDict, tmp_path: Path
) -> None:
    """Every absolute path becomes `<name>` or relative to the dataset; every figure is measured."""

    from edu_affect_data.config import load_config
    from edu_affect_data.core.vocabulary import SPLITS
    from edu_affect_data.stages.card import render_card
    from edu_affect_data.stages.publish import load_plan, split_stats

    licensed = tmp_path / "licensed"
    config = load_config(
        None,
        {
            "corpora.iemocap.root": str(licensed / "IEMOCAP_full_release"),
            "corpora.mosei.root": str(licensed / "CMU_MOSEI"),
            "corpora.mosei.speaker_map": str(licensed / "speakers.csv"),
            "annotation.media_root": str(build.out / "annotation" / "media"),
            "features.extractors.text.model": str(Path.home() / "models" / "minilm"),
            "features.extractors.frames.size": 112,
        },
    )
    stats = split_stats(load_plan(build))
    shards = {split: sorted((build.dataset / "data").glob(f"{split}-*.parquet")) for split in SPLITS}
    card = render_card(config, build, loaded["train"].features, stats, shards)
    published = (build.dataset / "README.md").read_text()
    for text in (card, published):
        for machine in {str(build.out), str(build.dataset), str(tmp_path), str(Path.home()), "/root/", "/work/", "/tmp/"}:
            assert machine not in text, machine
        assert 'load_dataset("<path of this folder>")' in text
        assert 'S M Rafiuddin, "Edu-EmotionNet: Cross-Modality Attention Alignment with Temporal Feedback Loops", ICMLA 2025 (Oklahoma State University)' in text
        assert "about 30 s" not in text
    for placeholder in ('"<IEMOCAP_full_release>"', '"<CMU_MOSEI>"', '"<speakers.csv>"', '"<minilm>"', '"../annotation/media"'):
        assert placeholder in card, placeholder
    sessions = sum(s.sessions for s in stats.values())
    seconds = float((load_plan(build)["end_s"] - load_plan(build)["start_s"]).mean())
    assert f"{sessions} sessions of {seconds:.1f} s on average" in card
    assert "frames (n, 3, 112, 112) uint8" in card  # the configured side, not a fixed 224
    assert "`edu-data build` (this card is written by its last stage, `publish`)" in card


def test_card_states_sessions_and_speakers_per_corpus_and_class(build: BuildPaths, loaded: datasets.DatasetDict) -> None:
    from edu_affect_data.stages.card import stats_from_card

    card = (build.dataset / "README.md").read_text()
    block = stats_from_card(card)
    assert "### Corpora and classes per split" in card
    for split, rows in loaded.items():
        corpora, speakers = rows["corpus"], rows["speaker_id"]
        expected = {c: corpora.count(c) for c in ("iemocap", "mosei")}
        assert block["corpus_counts"][split] == expected
        assert block["corpus_speakers"][split] == {c: len({s for s, k in zip(speakers, corpora, strict=True) if k == c}) for c in expected}
        labels = rows["label"]
        assert block["class_speakers"][split] == {
            name: len({s for s, label in zip(speakers, labels, strict=True) if label == i}) for i, name in enumerate(CLASSES)
        }
        cells = " | ".join(f"{expected[c]} ({block['corpus_speakers'][split][c]})" for c in expected)
        assert f"| {split} | {cells} | " in card


def test_card_opens_with_the_provenance(build: BuildPaths, loaded: datasets.DatasetDict, tmp_path: Path, tiny_corpora: Path) -> None:
    """Synthetic corpora and simulated annotators first and in bold, the overlap and the ratings the
    agreement used, the reviewer's share, the code and the whole build configuration; and, published
    outside a build, that all this is not recorded."""
    import json
    import shutil

    import pyarrow as pa

    from edu_affect_data.build import write_build_config
    from edu_affect_data.config import load_config
    from edu_affect_data.core.vocabulary import SPLITS
    from edu_affect_data.stages.card import render_card, stats_from_card
    from edu_affect_data.stages.publish import load_plan, split_stats

    outside = (build.dataset / "README.md").read_text()
    assert "whether they are synthetic is not recorded" in outside and "No `build_config.json`" in outside
    assert stats_from_card(outside)["provenance"]["simulated_annotators"] == "not recorded"

    for folder in ("manifest", "annotation", "splits"):
        shutil.copytree(build.out / folder, tmp_path / folder)
    paths = BuildPaths(tmp_path)
    labels = pq.read_table(paths.labels)
    assigned = pq.read_table(paths.assignment).to_pandas()
    in_dataset = assigned.loc[assigned["split"] != "excluded", "session_id"].iloc[0]
    methods = ["adjudicated" if s == in_dataset else m for s, m in zip(labels["session_id"].to_pylist(), labels["method"].to_pylist(), strict=True)]
    pq.write_table(labels.set_column(labels.schema.get_field_index("method"), "method", pa.array(methods)), paths.labels)
    paths.agreement_dir.mkdir(parents=True, exist_ok=True)
    (paths.agreement_dir / "agreement.json").write_text(json.dumps(
        {"n_ratings": 40, "n_sessions": 20, "gold": {"left_out_of_agreement": 2}, "notes": ["Only the first 2 ratings of every session count."]}))
    config = load_config(None, {
        "corpora.iemocap": str(tiny_corpora / "IEMOCAP_full_release"), "corpora.mosei": str(tiny_corpora / "CMU_MOSEI"),
        "annotation.overlap": {"initial": 2, "max": 3}, "annotation.simulate": {"annotators": [{"name": "a", "accuracy": 0.9}]},
    })
    write_build_config(config, paths)
    card = render_card(config, paths, loaded["train"].features, split_stats(load_plan(build)),
                       {split: sorted((build.dataset / "data").glob(f"{split}-*.parquet")) for split in SPLITS})
    provenance = card[card.index("## Provenance"):card.index("```python")]
    assert "- **Synthetic corpora: iemocap, mosei** (generated by `edu-data synth`, not recordings of people)." in provenance
    assert "- **Simulated annotators** (`annotation.simulate`): the labels are not people's judgements." in provenance
    assert "- Overlap policy: adaptive: 2 ratings per session, raised to 3 when they disagree." in provenance
    assert "- Agreement computed on each session's first 2 ratings: 40 ratings of 20 sessions, 2 gold sessions left out." in provenance
    assert f"- Decided by the reviewer: 1 of {labels.num_rows} labelled sessions (1 of the {len(load_plan(build))} in the dataset)." in provenance
    assert "- Code: edu-affect-data " in provenance
    assert "- Only the first 2 ratings of every session count." in card  # the agreement report's own notes
    record = stats_from_card(card)["provenance"]
    assert record["synthetic_corpora"] == ["iemocap", "mosei"] and record["simulated_annotators"] is True
    assert record["labels"]["decided_by_reviewer"] == 1
    assert "The whole resolved build configuration (`build_config.json`" in card
    assert "The split was stratified by label and corpus (`split.stratify_by`)." in card
    assert "What the split was stratified by is not recorded" in outside
    embedded = json.loads(card[card.index("```json") + len("```json"):card.index("```", card.index("```json") + 7)])
    assert embedded == json.loads(paths.build_config.read_text())["config"]
    assert embedded["annotation"]["simulate"]["annotators"][0]["name"] == "a" and "balance" in embedded  # beyond publish's slice
    assert str(tiny_corpora) not in card and str(tmp_path) not in card
