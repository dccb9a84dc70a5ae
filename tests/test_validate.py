"""validate: a clean build passes; a leaked speaker, a NaN, a wrong card count are caught; CLI exit status."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.fingerprint import file_digest
from edu_affect_data.stages.features.schema import array2d_column
from edu_affect_data.stages.validate import SHARD_NAME, validate_dataset
from tests.features.fake_build import published_build


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    return published_build(tmp_path_factory.getbasetemp())


@pytest.fixture
def copy(build: BuildPaths, tmp_path: Path) -> BuildPaths:
    """A writable copy of the dataset with the build's artifacts next to it."""
    for folder in ("dataset", "splits", "manifest", "annotation"):
        shutil.copytree(build.out / folder, tmp_path / folder)
    return BuildPaths(tmp_path)


def rewrite_first_row(shard: Path, column: str, value: pa.Array) -> None:
    """Replace the first row's `column`, as a publish that had written that value would have left the
    shard: named by its new content's digest, and listed by that name in the card."""
    table = pq.read_table(shard)
    replaced = pa.concat_arrays([value, table.column(column).combine_chunks().slice(1)])
    pq.write_table(
        table.set_column(
            table.schema.get_field_index(column), table.schema.field(column), replaced
        ),
        shard,
    )
    match = SHARD_NAME.match(shard.name)
    assert match is not None and match["digest"], shard.name
    renamed = shard.with_name(shard.name.replace(match["digest"], file_digest(shard)[: len(match["digest"])]))
    shard.rename(renamed)
    card = shard.parent.parent / "README.md"
    card.write_text(card.read_text().replace(shard.name, renamed.name))


def test_a_clean_build_is_valid(build: BuildPaths) -> None:
    assert validate_dataset(build.dataset) == []
    result = CliRunner().invoke(app, ["validate", str(build.dataset)])
    assert result.exit_code == 0 and "valid" in result.output


def test_a_leaked_speaker_is_caught(copy: BuildPaths) -> None:
    train_speaker = (
        pq.read_table(next((copy.dataset / "data").glob("train-*"))).column("speaker_id")[0].as_py()
    )
    rewrite_first_row(
        next((copy.dataset / "data").glob("test-*")), "speaker_id", pa.array([train_speaker])
    )
    violations = validate_dataset(copy.dataset)
    assert any(v.check == "speaker-leak" and v.where == train_speaker for v in violations), (
        violations
    )
    result = CliRunner().invoke(app, ["validate", str(copy.dataset)])
    assert result.exit_code == 1 and "speaker-leak" in result.output


def test_a_nan_in_the_features_is_caught(copy: BuildPaths) -> None:
    shard = next((copy.dataset / "data").glob("validation-*"))
    table = pq.read_table(shard)
    session = table.column("session_id")[0].as_py()
    mfcc = np.full((5, 40), np.nan, dtype=np.float32)
    rewrite_first_row(shard, "mfcc", array2d_column([mfcc], table.schema.field("mfcc").type))
    violations = validate_dataset(copy.dataset)
    assert [(v.check, v.where) for v in violations] == [("finite", f"validation/{session}")]


def test_card_counts_and_missing_sessions_are_caught(copy: BuildPaths) -> None:
    readme = copy.dataset / "README.md"
    readme.write_text(
        readme.read_text().replace(
            "class_counts:\n    train:\n      Confused: ",
            "class_counts:\n    train:\n      Confused: 9",
            1,
        )
    )
    for shard in (copy.dataset / "data").glob("test-*"):
        shard.unlink()
    checks = {v.check for v in validate_dataset(copy.dataset)}
    assert {"class-counts", "layout", "accounted"} <= checks


def test_card_corpus_counts_are_checked_against_the_shards(copy: BuildPaths) -> None:
    """The card's sessions and speakers per split by corpus: a wrong figure in the card, or a shard row
    moved to another corpus, is a violation naming the split."""
    from edu_affect_data.stages.card import stats_from_card

    readme = copy.dataset / "README.md"
    stated = stats_from_card(readme.read_text())
    assert stated["corpus_counts"]["test"] and set(stated["corpus_speakers"]["test"]) == set(stated["corpus_counts"]["test"])
    count = stated["corpus_counts"]["train"]["iemocap"]
    text = readme.read_text()
    assert text.count("corpus_counts:\n    train:\n      iemocap: ") == 1
    readme.write_text(text.replace("corpus_counts:\n    train:\n      iemocap: ", "corpus_counts:\n    train:\n      iemocap: 9", 1))
    violations = validate_dataset(copy.dataset)
    assert [(v.check, v.where) for v in violations] == [("corpus-counts", "train")], violations
    readme.write_text(text)
    shard = sorted((copy.dataset / "data").glob("train-*"))[0]
    first = pq.read_table(shard, columns=["corpus"]).column("corpus")[0].as_py()
    rewrite_first_row(shard, "corpus", pa.array(["mosei" if first == "iemocap" else "iemocap"]))
    checks = {(v.check, v.where) for v in validate_dataset(copy.dataset)}
    assert ("corpus-counts", "train") in checks and count > 0, checks
