"""Fault matrix of the build's reuse rule after ingest: split's, features' and publish's outputs.

Each case damages a copy of the fake build of `tests.features.fake_build` (hand-made sessions,
stored as ingest stores them), taken through split, features and publish by `run_build`, the way
issue 20 found it damaged (a feature part zeroed mid-file with or without its mtime, a shard
replaced by another split's, the card hand-edited) and reruns `run_build`. What is asserted:

* detection: the stage that wrote the file reruns, and the file is named in the build's output;
* repair: the file comes back byte for byte (every stage here is deterministic), the tables
  downstream read back as before, and the stages whose inputs did not change are still skipped.

The same build is moved with `mv` and continued, validated and trained on from the new place, and
its published datasets loaded by fresh processes sharing one Hugging Face cache. Ingest and
annotate are `test_ingest_outputs_faults.py`'s. `FAULT_KINDS` counts the kinds covered here (the
"Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from edu_affect_data.build import run_build
from edu_affect_data.build_state import load_state, save_state
from edu_affect_data.cli import app
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.manifest import stored_path, write_sessions
from edu_affect_data.core.outputs import record_outputs
from edu_affect_data.stages.card import front_matter
from edu_affect_data.stages.validate import validate_dataset
from tests.faults.damaged_builds import (
    REPO,
    absolute_mentions,
    copy_build,
    log_of,
    logged,
    zero_mid_file,
)
from tests.features.fake_build import make_build, small_config
from tests.helpers.build_state import plant_state

#: Every case reruns a real stage (split, features and publish).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
#: Stages after `--from split` in the fake build (ingest and aggregate are planted as done).
FROM_SPLIT = ("split", "features", "publish")
#: Kinds of fault covered: a feature part zeroed (stat changed; kept and read by publish; kept and
#: --verify), a shard overwritten by another split's, an edited card, the build folder moved, a
#: dataset republished in place or elsewhere under the same name (stale rows from the HF cache).
FAULT_KINDS = 3 + 1 + 1 + 1 + 1


# --------------------------------------------------------- split, features, publish (fake build)
def features_config(**overrides: object) -> PipelineConfig:
    """Small settings with stored frame embeddings (what `tiny_cpu.yaml` trains on)."""
    values: dict[str, object] = {
        "features.extractors.frames.store": "embeddings",
        "features.extractors.frames.embedder.size": 112,
    }
    values.update(overrides)
    return small_config(**values)


def relocatable_build(base: Path) -> BuildPaths:
    """The fake build with its media outside the build folder and its sessions table stored as ingest stores it."""
    out = base / "out"
    make_build(out, n_dialogs=3, sessions_per_speaker=3)
    media = base / "corpus"
    (out / "media").rename(media)
    paths = BuildPaths(out)
    table = pq.read_table(paths.sessions)
    rows = table.to_pylist()
    for row in rows:
        for column in ("audio_path", "video_path"):
            row[column] = stored_path(media / Path(row[column]).name, media)
        for column in ("proxy_path", "frames_path"):
            row[column] = stored_path(out / row[column], out)  # make_build may store them relative already
    roots = {str(corpus): media for corpus in set(table["corpus"].to_pylist())}
    write_sessions(pa.Table.from_pylist(rows, schema=table.schema), paths, roots)
    plant_state(paths, {"ingest": ["manifest/sessions.parquet", "manifest/video"], "aggregate": ["annotation/labels.parquet"]})
    return paths


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    """The fake build taken through split, features and publish by the build (the reference)."""
    paths = relocatable_build(tmp_path_factory.mktemp("built"))
    result = run_build(features_config(), paths.out, start_from="split", console=logged())
    assert result.ran == FROM_SPLIT
    assert validate_dataset(paths.dataset) == []
    return paths


@pytest.fixture
def build_copy(built: BuildPaths, tmp_path: Path) -> BuildPaths:
    """A copy of the reference build beside its corpus (the copy reads the same media)."""
    shutil.copytree(built.out.parent / "corpus", tmp_path / "corpus")
    return BuildPaths(copy_build(built.out, tmp_path / "out"))


def dataset_rows(dataset: Path) -> dict[str, list[dict[str, Any]]]:
    """Every split's rows, in shard order (whatever the shard layout)."""
    import datasets  # noqa: F401  (the shards' Array2D extension types)

    return {
        split: [row for shard in sorted((dataset / "data").glob(f"{split}-*.parquet")) for row in pq.read_table(shard).to_pylist()]
        for split in ("train", "validation", "test")
    }


def a_part(paths: BuildPaths) -> Path:
    return sorted((paths.features_dir / "mfcc").glob("*.parquet"))[0]


@pytest.mark.parametrize("how", ["mtime changed", "stat kept, read by publish", "stat kept, --verify"])
def test_a_feature_part_zeroed_mid_file_is_recomputed(how: str, built: BuildPaths, build_copy: BuildPaths) -> None:
    part = a_part(build_copy)
    written = part.read_bytes()
    expected = dataset_rows(built.dataset)
    keep_stat = how != "mtime changed"
    if keep_stat:  # a no-op build first records this copy's inodes (a copy has new ones)
        assert run_build(features_config(), build_copy.out, start_from="split", console=logged()).ran == ()
    zero_mid_file(part, keep_stat=keep_stat)
    console = logged()
    if how == "stat kept, read by publish":
        # The stat check passes; a later publish (here: another shard size) reads every part.
        result = run_build(features_config(**{"dataset.max_shard_mb": 2}), build_copy.out, start_from="split", console=console)
        assert result.ran == ("features", "publish")  # publish's first attempt stopped at the part
        assert f"{part.relative_to(build_copy.out).as_posix()} is damaged" in log_of(console)
        assert "rerunning features, which wrote it" in log_of(console)
    else:
        result = run_build(features_config(), build_copy.out, start_from="split", verify=how.endswith("--verify"), console=console)
        # Recomputed byte for byte, so publish's inputs are unchanged and it is spared.
        assert result.ran == ("features",) and result.skipped == ("split", "publish")
        assert f"{part.relative_to(build_copy.out).as_posix()}: content differs" in log_of(console)
    assert part.read_bytes() == written
    assert dataset_rows(build_copy.dataset) == expected
    assert validate_dataset(build_copy.dataset) == []


def test_a_validation_shard_overwritten_by_the_test_shard_is_republished(built: BuildPaths, build_copy: BuildPaths) -> None:
    data = build_copy.dataset / "data"
    (validation,) = data.glob("validation-*.parquet")
    (test,) = data.glob("test-*.parquet")
    shutil.copyfile(test, validation)
    assert validate_dataset(build_copy.dataset) != []  # what validate alone says
    console = logged()
    result = run_build(features_config(), build_copy.out, start_from="split", console=console)
    assert result.ran == ("publish",)
    assert f"dataset/data/{validation.name}" in log_of(console)
    assert dataset_rows(build_copy.dataset) == dataset_rows(built.dataset)
    assert validate_dataset(build_copy.dataset) == []


def test_an_edited_card_does_not_survive_a_rebuild(built: BuildPaths, build_copy: BuildPaths) -> None:
    card = build_copy.dataset / "README.md"
    text = card.read_text()
    assert "speaker-independent" in text
    card.write_text(text.replace("speaker-independent", "speaker-dependent") + "\nFleiss kappa 0.993\n")
    result = run_build(features_config(), build_copy.out, start_from="split", console=logged())
    assert result.ran == ("publish",)
    assert card.read_bytes() == (built.dataset / "README.md").read_bytes()


# ----------------------------------------------------------------------------- a moved build
def test_a_moved_build_folder_continues_validates_and_trains(built: BuildPaths, build_copy: BuildPaths, tmp_path: Path) -> None:
    old = build_copy.out
    assert absolute_mentions(old, old, built.out) == []  # no artifact names where the build folder is (or was copied from)
    moved = BuildPaths(tmp_path / "elsewhere" / "build")
    moved.out.parent.mkdir()
    os.rename(old, moved.out)  # `mv`: inodes and mtimes kept

    # Everything is still what its stage wrote: nothing reruns, nothing is read twice.
    assert run_build(features_config(), moved.out, start_from="split", console=logged()).skipped == FROM_SPLIT
    # Features rerun from the new place finds its proxies there and every part under the same name.
    forced = run_build(features_config(), moved.out, start_from="features", until="features", force="features", console=logged())
    assert forced.ran == ("features",)
    stats = forced.outcomes["features"].stats
    assert stats["session_parts_computed"] == 0 and stats["batch_parts_computed"] == 0
    assert run_build(features_config(), moved.out, start_from="split", console=logged()).skipped == FROM_SPLIT
    assert validate_dataset(moved.dataset) == []

    run = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", str(REPO / "model" / "configs" / "tiny_cpu.yaml"), "--out", str(run), "--seeds", "0",
        "--set", f"data={moved.dataset}", "--set", "train.epochs=1", "--set", "train.progress=false",
        "--set", "eval.missing_rates=[0.0]",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (run / "seed0" / "results.json").is_file()


# ------------------------------------------------------------------- loading (the HF cache)
LOAD = """
import json, sys
from datasets import load_dataset
split = load_dataset(sys.argv[1], split=sys.argv[2])
rows = {"ids": list(split["session_id"]), "labels": list(split["label"])}
print(json.dumps({**rows, "cache": sorted(f["filename"] for f in split.cache_files)}))
"""


def load_in_a_new_process(dataset: Path, split: str, hf_home: Path) -> dict[str, Any]:
    """`load_dataset(dataset, split=...)` in a fresh interpreter with the shared cache `hf_home`."""
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_DATASETS_CACHE": str(hf_home / "datasets"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", LOAD, str(dataset), split], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def published(dataset: Path, split: str) -> dict[str, list[Any]]:
    """The split's session ids and labels as its shards hold them."""
    shards = sorted((dataset / "data").glob(f"{split}-*.parquet"))
    table = pa.concat_tables(pq.read_table(shard, columns=["session_id", "label"]) for shard in shards)
    return {"ids": table["session_id"].to_pylist(), "labels": table["label"].to_pylist()}


def swap_two_labels(paths: BuildPaths, first: str, second: str) -> None:
    """What a re-annotation that swapped two sessions' labels leaves: labels.parquet, recorded by aggregate."""
    labels = pq.read_table(paths.labels)
    rows = {row["session_id"]: row for row in labels.to_pylist()}
    for key in ("label", "votes"):
        rows[first][key], rows[second][key] = rows[second][key], rows[first][key]
    pq.write_table(pa.Table.from_pylist(list(rows.values()), schema=labels.schema), paths.labels)
    state = load_state(paths.build_state)
    state["stages"]["aggregate"]["files"] = record_outputs(paths.out, state["stages"]["aggregate"]["outputs"])
    save_state(paths.build_state, state)


def test_loading_a_republished_dataset_never_returns_stale_rows(built: BuildPaths, build_copy: BuildPaths, tmp_path: Path) -> None:
    hf_home = tmp_path / "hf"
    first = load_in_a_new_process(build_copy.dataset, "test", hf_home)
    assert {k: first[k] for k in ("ids", "labels")} == published(build_copy.dataset, "test")
    # Unchanged: the cache is hit (the same arrow files, not rewritten).
    mtimes = {name: Path(name).stat().st_mtime_ns for name in first["cache"]}
    again = load_in_a_new_process(build_copy.dataset, "test", hf_home)
    assert again == first and {name: Path(name).stat().st_mtime_ns for name in again["cache"]} == mtimes

    # Another build, its folder also called `dataset`, whose card says the same (same splits, sizes,
    # counts): two test sessions of one speaker have swapped labels. It loads its own rows.
    other = BuildPaths(copy_build(built.out, tmp_path / "other" / "out"))
    swap_two_labels(other, *first["ids"][:2])
    assert run_build(features_config(), other.out, start_from="split", console=logged()).ran == FROM_SPLIT
    cards = [front_matter((paths.dataset / "README.md").read_text()) for paths in (build_copy, other)]
    assert cards[0]["dataset_info"] == cards[1]["dataset_info"] and cards[0]["edu_affect"] == cards[1]["edu_affect"]
    swapped = published(other.dataset, "test")
    assert swapped["ids"] == first["ids"] and swapped["labels"] != first["labels"]
    assert {k: v for k, v in load_in_a_new_process(other.dataset, "test", hf_home).items() if k != "cache"} == swapped

    # Rebuilt in place with another split: the test shard is replaced; a new process loads the new rows.
    assert run_build(features_config(seed=3), build_copy.out, start_from="split", console=logged()).ran == FROM_SPLIT
    rebuilt = published(build_copy.dataset, "test")
    assert rebuilt["ids"] != first["ids"]
    assert {k: v for k, v in load_in_a_new_process(build_copy.dataset, "test", hf_home).items() if k != "cache"} == rebuilt
