"""A feature extractor defined in the test suite goes through features and publish with no package edit."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from edu_affect_data.build import run_build
from edu_affect_data.cli import app
from edu_affect_data.config import ConfigError
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.features.index import read_index
from edu_affect_data.stages.features.registry import register_extractor, unregister_extractor
from edu_affect_data.stages.validate import validate_dataset
from tests.features.fake_build import published_build, small_config
from tests.features.plugin_extractor import RmsExtractor
from tests.helpers.build_state import plant_state

#: The upstream stages' outputs a `--from features` build needs recorded as complete.
UPSTREAM = {"ingest": "manifest", "aggregate": "annotation", "split": "splits"}


@pytest.fixture
def rms() -> Iterator[RmsExtractor]:
    extractor = register_extractor(RmsExtractor())
    yield extractor
    unregister_extractor(extractor.name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    return published_build(tmp_path_factory.getbasetemp())


def with_plugin(window_s: float = 0.1):  # type: ignore[no-untyped-def]
    return small_config(**{"features.extractors.rms": {"window_s": window_s}})


@pytest.mark.slow
def test_a_plugin_extractor_is_built_published_loaded_and_validated(
    rms: RmsExtractor, reference: BuildPaths, tmp_path: Path
) -> None:
    # The reference build's artifacts and feature parts, as after `edu-data build --until features`.
    for folder in ("manifest", "annotation", "splits", "features"):
        shutil.copytree(reference.out / folder, tmp_path / folder)
    paths = BuildPaths(tmp_path)
    plant_state(paths, {stage: [folder] for stage, folder in UPSTREAM.items()})
    result = run_build(with_plugin(), tmp_path, start_from="features", until="publish")
    assert result.complete and result.ran == ("features", "publish")

    # Only the new extractor's parts were computed: the built-ins' parts are named by the same inputs.
    stats = result.outcomes["features"].stats
    sessions = int(stats["sessions"])
    assert stats["session_parts_computed"] == sessions
    assert stats["session_parts_reused"] == 2 * sessions and stats["batch_parts_computed"] == 0
    index = read_index(paths)
    assert list(index.extractors) == ["mfcc", "frames", "text", "rms"]
    assert all(ref.path.startswith("rms/") for entry in index.entries for ref in entry.parts[3:])

    loaded = datasets.load_dataset(str(paths.dataset))
    train = loaded["train"]
    assert train.features["rms_energy"] == datasets.Sequence(datasets.Value("float32"))
    assert list(train.features)[-1] == "rms_energy"
    row = train.with_format("numpy")[0]
    assert len(row["rms_energy"]) == round((row["end_s"] - row["start_s"]) / 0.1)
    assert (row["rms_energy"] > 0).all()
    reference_row = datasets.load_dataset(str(reference.dataset))["train"].with_format("numpy")[0]
    np.testing.assert_array_equal(row["mfcc"], reference_row["mfcc"])

    assert validate_dataset(paths.dataset) == []
    outcome = CliRunner().invoke(app, ["validate", str(paths.dataset)])
    assert outcome.exit_code == 0 and "valid" in outcome.output
    card = (paths.dataset / "README.md").read_text()
    assert "`rms_energy`: RMS amplitude" in card and '"rms"' in card


def test_validate_runs_the_plugin_check(rms: RmsExtractor, reference: BuildPaths, tmp_path: Path) -> None:
    """A broken plugin value is caught by the plugin's own `check` (the reference has no such column)."""
    import pyarrow as pa

    shutil.copytree(reference.dataset, tmp_path / "dataset")
    shards = sorted((tmp_path / "dataset" / "data").glob("*.parquet"))
    for shard in shards:  # every shard of a split must keep one schema
        table = pq.read_table(shard)
        values = [[0.5]] * table.num_rows
        if shard == shards[0]:
            values[0] = [-1.0]
            session, split = table.column("session_id")[0].as_py(), shard.name.split("-")[0]
        pq.write_table(table.append_column("rms_energy", pa.array(values, pa.list_(pa.float32()))), shard)
    violations = validate_dataset(tmp_path / "dataset")
    assert [(v.check, v.where) for v in violations if v.check == "range"] == [("range", f"{split}/{session}")]


def test_plugin_options_are_checked_by_the_plugin_model(rms: RmsExtractor) -> None:
    with pytest.raises(ConfigError, match=r"features\.extractors\.rms\.window_s"):
        with_plugin(window_s=-1.0)
    with pytest.raises(ConfigError, match=r"features\.extractors\.rms\.hop_s.*options of extractor rms: window_s, sample_rate"):
        small_config(**{"features.extractors": {"rms": {"hop_s": 0.1}}})
    with pytest.raises(ConfigError, match="unknown feature extractor 'rmss'"):
        small_config(**{"features.extractors": {"mfcc": None, "rmss": None}})
    # The previous release's layout is refused with the mapping to write instead.
    with pytest.raises(ConfigError, match=r"features\.plugins: .*write `features: \{extractors: \{mfcc: .*rms: \{\}"):
        small_config(**{"features.extractors": None, "features.plugins": {"rms": {}}})
