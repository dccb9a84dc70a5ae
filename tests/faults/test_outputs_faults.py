"""Fault matrix of the build's reuse rule: a stage reuses only the files it wrote, and a build folder moves.

Each case damages a copy of a finished build the way issue 20 found it damaged (a file replaced by
another recording's or split's, truncated, deleted, zeroed mid-file with or without its mtime,
hand-edited) and reruns `run_build`. What is asserted:

* detection: the stage that wrote the file reruns (or, where no stage of the run can rewrite it,
  the build stops with a `DamagedInput`, exit 1), and the file is named in the build's output;
* repair: the file comes back byte for byte (every stage here is deterministic), the tables
  downstream read back as before, and the stages whose inputs did not change are still skipped.

Two small builds are damaged: the `tiny` synthetic corpora ingested through the real ingest
(proxies, frame tables, `sessions.parquet`), and the fake build of `tests.features.fake_build`
(hand-made sessions, stored as ingest stores them) taken through split, features and publish by
`run_build`. The same builds are moved with `mv` and continued, validated and trained on from the
new place, and their published datasets loaded by fresh processes sharing one Hugging Face cache.
`FAULT_KINDS` counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from edu_affect_data.annotation.client import LabelStudioSettings
from edu_affect_data.build import (
    STAGES,
    BuildResult,
    DamagedInput,
    StageSpec,
    load_state,
    run_build,
    save_state,
)
from edu_affect_data.cli import app
from edu_affect_data.cli.errors import EXIT_FAILED, exit_status
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.fingerprint import file_digest
from edu_affect_data.core.manifest import read_sessions, stored_path, write_sessions
from edu_affect_data.core.outputs import record_outputs
from edu_affect_data.core.parallel import local_pool
from edu_affect_data.stages.card import front_matter
from edu_affect_data.stages.validate import validate_dataset
from tests.annotation.conftest import build, ls_settings, small_corpus  # noqa: F401 (fixtures)
from tests.annotation.server import delete_projects
from tests.features.fake_build import make_build, small_config
from tests.helpers.build_state import plant_state

#: Every case reruns a real stage (ingest on the tiny corpora, or features and publish).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]
IEMOCAP = "IEMOCAP_full_release"
MOSEI = "CMU_MOSEI"
#: A kept session of the tiny corpora (seed 0): clips and frame embeddings are cut from its proxy.
KEPT = "iemocap:Ses05F_impro03:Ses05_F:000"
#: The issue's case: a MOSEI video whose session is `gap` for several seconds of black video, and another video.
BLACK_GAP = "mosei:bvU_i4y-wa4:mosei_bvU_i4y-wa4:000"
OTHER_VIDEO = "mosei:8lgGt_59oQW:mosei_8lgGt_59oQW:000"
#: Stages after `--from split` in the fake build (ingest and aggregate are planted as done).
FROM_SPLIT = ("split", "features", "publish")
#: Kinds of fault covered: 3 proxy faults, a foreign frame table, sessions.parquet damaged (stat
#: changed; stat kept and read by the next stage; same before --from), a feature part zeroed (stat
#: changed; kept and read by publish; kept and --verify), a shard overwritten by another split's,
#: an edited card, a deleted annotation clip, the build folder moved (two builds), a dataset
#: republished in place or elsewhere under the same name (stale rows from the HF cache).
FAULT_KINDS = 3 + 1 + 3 + 3 + 1 + 1 + 1 + 2 + 1


def logged() -> Console:
    return Console(file=StringIO(), width=300)


def log_of(console: Console) -> str:
    assert isinstance(console.file, StringIO)
    return " ".join(console.file.getvalue().split())


def copy_build(out: Path, target: Path) -> Path:
    shutil.copytree(out, target, symlinks=True)
    return target


def zero_mid_file(path: Path, count: int = 200, *, keep_stat: bool = False) -> None:
    """`count` zero bytes in the middle of `path` (its footer intact); with `keep_stat`, size, mtime and inode unchanged."""
    before = path.stat()
    with path.open("r+b") as handle:
        handle.seek(before.st_size // 2 - count // 2)
        handle.write(bytes(count))
    if keep_stat:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino


def truncate_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def rows_by_id(paths: BuildPaths) -> dict[str, dict[str, Any]]:
    return {row["session_id"]: row for row in read_sessions(paths).to_pylist()}


# ------------------------------------------------------------------------- ingest (tiny corpora)
@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    with local_pool(2) as executor:
        yield executor


def ingest_config(root: Path) -> PipelineConfig:
    return load_config(None, {"corpora.iemocap": str(root / IEMOCAP), "corpora.mosei": str(root / MOSEI)})


def ingest(root: Path, out: Path, pool: Executor, console: Console | None = None) -> BuildResult:
    return run_build(ingest_config(root), out, until="ingest", executor=pool, console=console or logged())


@pytest.fixture(scope="module")
def ingested(tiny_corpora: Path, tmp_path_factory: pytest.TempPathFactory, pool: Executor) -> BuildPaths:
    out = tmp_path_factory.mktemp("ingested") / "out"
    assert ingest(tiny_corpora, out, pool).ran == ("ingest",)
    return BuildPaths(out)


@pytest.fixture
def ingest_copy(ingested: BuildPaths, tmp_path: Path) -> BuildPaths:
    """A copy of the ingested build (every inode new, so the first check reads each file once)."""
    return BuildPaths(copy_build(ingested.out, tmp_path / "out"))


PROXY_FAULTS: dict[str, Callable[[Path, Path], object]] = {
    "replaced by another recording's proxy": lambda proxy, other: shutil.copyfile(other, proxy),
    "deleted": lambda proxy, other: proxy.unlink(),
    "truncated": lambda proxy, other: truncate_half(proxy),
}


@pytest.mark.parametrize("fault", list(PROXY_FAULTS))
def test_a_damaged_region_proxy_is_detected_and_rebuilt(
    fault: str, ingest_copy: BuildPaths, tiny_corpora: Path, pool: Executor
) -> None:
    before = rows_by_id(ingest_copy)
    proxy = Path(before[KEPT]["proxy_path"])
    other = Path(before[OTHER_VIDEO]["proxy_path"])
    written = file_digest(proxy)
    PROXY_FAULTS[fault](proxy, other)
    console = logged()
    assert ingest(tiny_corpora, ingest_copy.out, pool, console).ran == ("ingest",)
    assert proxy.relative_to(ingest_copy.out).as_posix() in log_of(console)
    assert file_digest(proxy) == written  # the proxy the clips and frame embeddings are cut from is the recording's own
    assert rows_by_id(ingest_copy) == before
    assert ingest(tiny_corpora, ingest_copy.out, pool).skipped == ("ingest",)


def test_a_foreign_frame_table_is_detected_and_the_gap_stays_a_gap(
    ingest_copy: BuildPaths, tiny_corpora: Path, pool: Executor
) -> None:
    before = rows_by_id(ingest_copy)
    truth = json.loads((tiny_corpora / "synth_truth.json").read_text())
    (black,) = [f for f in truth["faults"] if f["recording"] == BLACK_GAP.split(":")[1] and f["kind"] == "black"]
    gap = f"video gap {black['end_s'] - black['start_s']:.2f} s (black) at {black['start_s']:.2f}-{black['end_s']:.2f}"
    assert before[BLACK_GAP]["status"] == "gap" and gap in before[BLACK_GAP]["reason"], (gap, before[BLACK_GAP]["reason"])
    frames = Path(before[BLACK_GAP]["frames_path"])
    written = file_digest(frames)
    shutil.copyfile(before[OTHER_VIDEO]["frames_path"], frames)  # a valid table, of a video without the gap
    console = logged()
    assert ingest(tiny_corpora, ingest_copy.out, pool, console).ran == ("ingest",)
    assert f"{frames.relative_to(ingest_copy.out).as_posix()}: " in log_of(console)
    assert file_digest(frames) == written
    assert rows_by_id(ingest_copy) == before


READER = '''
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.core.stage import StageOutcome


def read_every_session(config, paths, *, executor=None):
    """A stage after ingest that reads every page of the sessions table (as annotate and split do)."""
    rows = read_sessions(paths).num_rows
    out = paths.out / "reader.txt"
    out.write_text(str(rows))
    return StageOutcome(True, f"read {rows} sessions", (out,))
'''


@pytest.fixture
def with_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[StageSpec, StageSpec]:
    """Ingest and a stage reading its table (a module of its own, imported by name like a real stage)."""
    module = f"reader_stage_{os.getpid()}_{tmp_path.name}"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / f"{module}.py").write_text(textwrap.dedent(READER))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert STAGES[0].name == "ingest"
    return STAGES[0], StageSpec("reader", f"{module}:read_every_session", ("name",), ("ingest",))


def test_sessions_parquet_corrupted_mid_file_is_detected_and_rebuilt(
    ingest_copy: BuildPaths, tiny_corpora: Path, pool: Executor, with_reader: tuple[StageSpec, StageSpec]
) -> None:
    config = ingest_config(tiny_corpora)
    before = rows_by_id(ingest_copy)
    written = file_digest(ingest_copy.sessions)
    assert run_build(config, ingest_copy.out, stages=with_reader, executor=pool, console=logged()).ran == ("reader",)

    # Its mtime changed: found by the check before ingest is skipped.
    zero_mid_file(ingest_copy.sessions)
    console = logged()
    result = run_build(config, ingest_copy.out, stages=with_reader, executor=pool, console=console)
    assert result.ran == ("ingest",) and result.skipped == ("reader",)  # byte-identical again: reader spared
    assert "manifest/sessions.parquet: content differs from what the stage wrote" in log_of(console)
    assert file_digest(ingest_copy.sessions) == written and rows_by_id(ingest_copy) == before

    # Size, mtime and inode kept (bit rot): the stat check passes, the page checksums do not. The
    # reader meets it, the build names it, recomputes ingest and runs the reader again.
    zero_mid_file(ingest_copy.sessions, keep_stat=True)
    console = logged()
    result = run_build(config, ingest_copy.out, stages=with_reader, executor=pool, force="reader", console=console)
    assert result.ran == ("ingest", "reader")
    text = log_of(console)
    assert "manifest/sessions.parquet is damaged (could not verify page integrity, CRC checksum verification failed" in text
    assert "rerunning ingest, which wrote it" in text
    assert file_digest(ingest_copy.sessions) == written and rows_by_id(ingest_copy) == before

    # Where the writer is not part of the run (--from), the build stops: exit 1 naming file and stage.
    zero_mid_file(ingest_copy.sessions, keep_stat=True)
    with pytest.raises(DamagedInput) as raised:
        run_build(config, ingest_copy.out, stages=with_reader, executor=pool, start_from="reader", force="reader", console=logged())
    assert exit_status(raised.value) == EXIT_FAILED
    assert str(ingest_copy.sessions) in str(raised.value) and "stage ingest wrote it" in str(raised.value)
    assert "edu-data build --from ingest" in str(raised.value)


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
def absolute_mentions(folder: Path, *needles: Path) -> list[str]:
    """Files under `folder` that name one of `needles` (absolute paths), relative to `folder`.

    Parquet is searched in its decoded values and schema metadata (its pages are compressed, so
    a path inside one need not appear in the file's bytes); every other file in its bytes.
    """
    import datasets  # noqa: F401  (the shards' Array2D extension types)

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = json.dumps([table.to_pylist(), {k.decode(): v.decode(errors="replace") for k, v in (table.schema.metadata or {}).items()}], default=str)
            hit = any(str(needle) in text for needle in needles)
        else:
            data = path.read_bytes()
            hit = any(str(needle).encode() in data for needle in needles)
        if hit:
            found.append(path.relative_to(folder).as_posix())
    return found


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


def test_a_moved_ingest_is_reused_and_names_no_old_path(
    ingested: BuildPaths, ingest_copy: BuildPaths, tiny_corpora: Path, pool: Executor, tmp_path: Path
) -> None:
    old = ingest_copy.out
    assert absolute_mentions(old, old, ingested.out) == []
    before = {k: {c: v for c, v in row.items() if c not in ("proxy_path", "frames_path")} for k, row in rows_by_id(ingest_copy).items()}
    moved = BuildPaths(tmp_path / "moved")
    os.rename(old, moved.out)
    assert ingest(tiny_corpora, moved.out, pool).skipped == ("ingest",)
    after = rows_by_id(moved)
    assert {k: {c: v for c, v in row.items() if c not in ("proxy_path", "frames_path")} for k, row in after.items()} == before
    assert all(Path(row["proxy_path"]).is_file() for row in after.values() if row["proxy_path"] is not None)
    assert all(str(moved.out) in str(row["frames_path"]) for row in after.values() if row["frames_path"] is not None)


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


# ------------------------------------------------------------ annotation (Label Studio server)
@pytest.mark.labelstudio
def test_a_deleted_annotation_clip_is_cut_again(build: tuple[PipelineConfig, BuildPaths]) -> None:  # noqa: F811
    config, paths = build
    annotate = [spec for spec in STAGES if spec.name == "annotate"]
    assert run_build(config, paths.out, stages=annotate, console=logged()).ran == ("annotate",)
    clips = sorted((paths.annotation_dir / "media" / "clips").glob("*.mp4"))
    assert clips
    written = file_digest(clips[0])
    clips[0].unlink()
    console = logged()
    assert run_build(config, paths.out, stages=annotate, console=console).ran == ("annotate",)
    assert f"{clips[0].relative_to(paths.out).as_posix()}: missing" in log_of(console)
    assert file_digest(clips[0]) == written
    assert run_build(config, paths.out, stages=annotate, console=logged()).skipped == ("annotate",)


@pytest.mark.labelstudio
def test_a_moved_annotated_build_is_reused_and_annotate_status_runs_there(
    tiny_corpora: Path,
    tmp_path: Path,
    ls_settings: LabelStudioSettings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    pool: Executor,
) -> None:
    title = f"t{uuid.uuid4().hex[:6]} moved build"
    overrides = {"annotation.project_title": title, "annotation.clip.height": "96"}
    config = load_config(REPO / "pipelines" / "demo.yaml", {
        "corpora.iemocap": str(tiny_corpora / IEMOCAP), "corpora.mosei": str(tiny_corpora / MOSEI), **overrides,
    })  # fmt: skip
    for variable, value in (("LABEL_STUDIO_URL", ls_settings.url), ("LABEL_STUDIO_API_KEY", ls_settings.api_key)):
        monkeypatch.setenv(variable, value)
    try:
        old = tmp_path / "out"
        done = run_build(config, old, until="aggregate", executor=pool, console=logged())
        assert done.complete and done.ran == ("ingest", "annotate", "pull", "aggregate"), done.message
        assert absolute_mentions(old, old) == []
        moved = tmp_path / "elsewhere" / "out"
        moved.parent.mkdir()
        os.rename(old, moved)
        again = run_build(config, moved, until="aggregate", executor=pool, console=logged())
        assert again.complete and again.skipped == ("ingest", "annotate", "pull", "aggregate")
        sets = [item for key, value in overrides.items() for item in ("--set", f"{key}={value}")]
        status = CliRunner().invoke(app, ["annotate", "status", str(REPO / "pipelines" / "demo.yaml"), "--out", str(moved), "--format", "json", *sets])
        assert status.exit_code == 0, status.output
        reported = json.loads(status.stdout[status.stdout.index("{"):])
        kept = sum(row["status"] == "kept" for row in read_sessions(BuildPaths(moved)).to_pylist())
        assert (reported["sessions"], reported["complete"], reported["waiting"]) == (kept, kept, False)
    finally:
        delete_projects(ls_settings, title)
