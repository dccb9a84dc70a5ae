"""Fault matrix of the build's reuse rule on the tiny corpora: ingest's and annotate's outputs.

Each case damages a copy of a build of the `tiny` synthetic corpora, ingested through the real
ingest, the way issue 20 found it damaged (a region proxy or a frame table replaced by another
recording's, a proxy truncated or deleted, `sessions.parquet` zeroed mid-file with or without its
mtime, an annotation clip deleted) and reruns `run_build`. What is asserted:

* detection: the stage that wrote the file reruns (or, where no stage of the run can rewrite it,
  the build stops with a `DamagedInput`, exit 1), and the file is named in the build's output;
* repair: the file comes back byte for byte (every stage here is deterministic), the tables
  downstream read back as before, and the stages whose inputs did not change are still skipped.

The same builds (ingested, and annotated through aggregate) are moved with `mv` and continued from
the new place. Split, features and publish are `test_dataset_outputs_faults.py`'s. `FAULT_KINDS`
counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from edu_affect_data.annotation.client import LabelStudioSettings
from edu_affect_data.build import STAGES, BuildResult, StageSpec, run_build
from edu_affect_data.build_errors import DamagedInput
from edu_affect_data.cli import app
from edu_affect_data.cli.errors import EXIT_FAILED, exit_status
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.fingerprint import file_digest
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.core.parallel import local_pool
from tests.annotation.conftest import build, ls_settings, small_corpus  # noqa: F401 (fixtures)
from tests.annotation.server import delete_projects
from tests.faults.damaged_builds import (
    REPO,
    absolute_mentions,
    copy_build,
    log_of,
    logged,
    zero_mid_file,
)

#: Every case reruns a real stage (ingest on the tiny corpora, or annotate).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
IEMOCAP = "IEMOCAP_full_release"
MOSEI = "CMU_MOSEI"
#: A kept session of the tiny corpora (seed 0): clips and frame embeddings are cut from its proxy.
KEPT = "iemocap:Ses05F_impro03:Ses05_F:000"
#: The issue's case: a MOSEI video whose session is `gap` for several seconds of black video, and another video.
BLACK_GAP = "mosei:bvU_i4y-wa4:mosei_bvU_i4y-wa4:000"
OTHER_VIDEO = "mosei:8lgGt_59oQW:mosei_8lgGt_59oQW:000"
#: Kinds of fault covered: 3 proxy faults, a foreign frame table, sessions.parquet damaged (stat
#: changed; stat kept and read by the next stage; same before --from), a deleted annotation clip,
#: the build folder moved (ingested, or annotated).
FAULT_KINDS = 3 + 1 + 3 + 1 + 1


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


# ----------------------------------------------------------------------------- a moved build
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
