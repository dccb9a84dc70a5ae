"""Ctrl-C and SIGTERM at up to 10 seeded points of ingest's video pass, clips, features and publish.

Each run is `edu-data build` in a subprocess in a session of its own (tests/faults/signal_stages.py
gives it one stage of our choice for clips, features and publish; ingest is the real build up to
ingest). SIGINT goes to the whole process group, as a terminal's Ctrl-C does (the build, its pool
workers and their ffmpeg all receive it); SIGTERM goes to the build's process only, as `kill`,
`docker stop` or a batch scheduler send it (the workers hear of it from the build). The points are
counts of files begun, drawn from a seeded generator (features: parts finished by the run itself),
and the signals alternate.

Every interrupted run must end (a run still there `HANG_S` after the signal is a hang), with exit
status 128 + the signal, its last line `stopped by SIG... in stage STAGE; rerun the same command to
resume`, no process of its group still alive and no temporary left in the build folder. Ingest,
clips and features resume, so their interruptions are chained (each rerun is interrupted further
on); publish starts over. A last uninterrupted rerun must give exactly what an uninterrupted build
gives: the ingest manifest, proxies and frame tables, every clip byte for byte, every feature part
and dataset shard row for row. How fast a run stops is measured by bench/interrupt.py, not here.
"""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from edu_affect_data.annotation.clips import clips_dir, make_clips
from edu_affect_data.core.artifacts import BuildPaths
from tests.annotation.small_corpus import SmallCorpus, write_corpus
from tests.faults import signal_stages
from tests.faults.test_kill9_faults import (
    FINISHED,
    copy_build,
    files_since,
    parquet_contents,
    temporaries,
)
from tests.features.fake_build import published_build, small_config
from tests.helpers.processes import live_members, members_after

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "pipelines" / "demo.yaml"
SEED = 20
#: Seconds after the signal beyond which a run that has not ended counts as hung.
HANG_S = 60.0
#: Seconds a run may take to reach its point (the machine may be loaded).
REACH_S = 180.0
#: The signal of each interruption, per stage: 10 points, five of each signal.
POINTS = {
    "ingest": (signal.SIGINT, signal.SIGTERM, signal.SIGINT),
    "clips": (signal.SIGTERM, signal.SIGINT),
    "features": (signal.SIGTERM, signal.SIGINT, signal.SIGTERM),
    "publish": (signal.SIGINT, signal.SIGTERM),
}


@dataclass(frozen=True)
class Stopped:
    status: int
    last_line: str


def points(stage: str, low: int, high: int, count: int) -> list[int]:
    """`count` distinct file counts in [low, high), ascending, from a per-stage seed."""
    return sorted(random.Random(f"{SEED}-{stage}-{low}").sample(range(low, high), count))


def interrupt_at(script: str, begun: Callable[[], int], at: int, signum: int, log: Path) -> Stopped:
    """Run `script`; once `begun()` reaches `at`, send `signum` the way a user's tools do; check it ended cleanly."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", script], cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr
        )
        deadline = time.monotonic() + REACH_S
        while begun() < at and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        running = process.poll() is None
        if running:
            if signum == signal.SIGINT:
                os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
            else:
                os.kill(process.pid, signum)  # kill, docker stop, a scheduler: the main process only
            try:
                process.wait(timeout=HANG_S)
            except subprocess.TimeoutExpired:
                left = live_members(process.pid)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                pytest.fail(f"hung: still running {HANG_S} s after {signum!r} at {at}: {left}\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert running, f"ended (rc {process.returncode}) before its point {at}:\n{output[-3000:]}"
    left = members_after(process.pid)
    assert not left, (left, output[-3000:])
    lines = output.strip().splitlines()
    return Stopped(process.returncode, lines[-1] if lines else "")


def check_stopped(stopped: Stopped, signum: int, stage: str, out: Path) -> None:
    name = signal.Signals(signum).name
    assert stopped.status == 128 + signum, stopped
    assert re.fullmatch(rf"stopped by {name} in stage {stage}; rerun the same command to resume", stopped.last_line), stopped
    assert not temporaries(out), temporaries(out)


def finish(script: str, log: Path) -> None:
    """The last, uninterrupted rerun."""
    with log.open("w") as stderr:
        status = subprocess.run([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr).returncode
    assert status == 0, log.read_text()[-3000:]


def cli_script(argv: list[str]) -> str:
    return f"from edu_affect_data.cli import app\napp({argv!r}, prog_name='edu-data')\n"


# ------------------------------------------------------------------------------------- ingest
def ingest_argv(corpora: Path, out: Path) -> list[str]:
    return ["build", str(PIPELINE), "--until", "ingest", "--out", str(out),
            "--iemocap", str(corpora / "IEMOCAP_full_release"), "--mosei", str(corpora / "CMU_MOSEI")]  # fmt: skip


def manifest_contents(out: Path) -> dict[str, Any]:
    """What ingest wrote, comparable across build folders: paths inside `out` and output digests
    made from them are written as placeholders; proxies as bytes, tables and arrays as values."""

    def portable(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"--[0-9a-f]{16}", "--*", value.replace(str(out), "OUT"))
        if isinstance(value, list):
            return [portable(v) for v in value]
        if isinstance(value, dict):
            return {k: portable(v) for k, v in value.items()}
        return value

    found: dict[str, Any] = {}
    for path in sorted((out / "manifest").rglob(FINISHED)):
        if not path.is_file():
            continue
        key = portable(path.relative_to(out).as_posix())
        if path.suffix == ".parquet":
            found[key] = portable(pq.read_table(path).to_pylist())
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=True) as arrays:
                found[key] = {name: arrays[name].tolist() for name in sorted(arrays.files)}
        elif path.suffix == ".md":
            found[key] = portable(re.sub(r"\d+(\.\d+)? s\b", "T s", path.read_text()))  # timings differ
        else:
            found[key] = portable(path.read_text()) if path.suffix == ".csv" else path.read_bytes()
    return found


def test_ingest_interrupted_3_times_during_the_video_pass_then_rerun_is_an_uninterrupted_ingest(
    tiny_corpora: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    finish(cli_script(ingest_argv(tiny_corpora, reference)), tmp_path / "reference.log")
    proxies = len(list((reference / "manifest" / "video").rglob("*.mp4")))
    out = tmp_path / "interrupted"
    video = out / "manifest" / "video"
    script = cli_script(ingest_argv(tiny_corpora, out))

    def proxies_begun() -> int:
        """Proxies finished or being written (a temporary), this run's and earlier runs'."""
        return sum(1 for _ in video.rglob("*.mp4")) if video.is_dir() else 0

    for at, signum in zip(points("ingest", 1, proxies, 3), POINTS["ingest"], strict=True):
        stopped = interrupt_at(script, proxies_begun, at, signum, tmp_path / f"ingest-{at}.log")
        check_stopped(stopped, signum, "ingest", out)
    finish(script, tmp_path / "ingest-final.log")
    assert not temporaries(out)
    assert manifest_contents(out) == manifest_contents(reference)


# -------------------------------------------------------------------------------------- clips
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SmallCorpus:
    return write_corpus(tmp_path_factory.mktemp("signal_corpus"))


def pipeline_of(config: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))  # extractor order matters
    return path


def test_clips_interrupted_twice_then_rerun_are_the_uninterrupted_clips(corpus: SmallCorpus, tmp_path: Path) -> None:
    sessions = signal_stages.kept_sessions(corpus.sessions)
    expected = make_clips(sessions, tmp_path / "reference", signal_stages.CLIP)
    out = tmp_path / "interrupted"
    (out / "manifest").mkdir(parents=True)
    shutil.copy(corpus.sessions, BuildPaths(out).sessions)
    script = signal_stages.script("clips", pipeline_of(small_config(), tmp_path / "pipeline.yaml"), out)
    folder = clips_dir(signal_stages.media_root(out))

    def clips_begun() -> int:
        return sum(1 for _ in folder.glob("*.mp4")) if folder.is_dir() else 0

    for at, signum in zip(points("clips", 1, len(sessions), 2), POINTS["clips"], strict=True):
        check_stopped(interrupt_at(script, clips_begun, at, signum, tmp_path / f"clips-{at}.log"), signum, "clips", out)
    finish(script, tmp_path / "clips-final.log")
    assert not temporaries(out)
    for reference in expected:
        made = folder / reference.path.name
        assert made.read_bytes() == reference.path.read_bytes(), made
        assert made.with_suffix(".txt").read_text() == reference.path.with_suffix(".txt").read_text()


# ---------------------------------------------------------------------------- features, publish
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    """An uninterrupted build (shared with the kill -9, features and dataset tests)."""
    return published_build(tmp_path_factory.getbasetemp())


def test_features_interrupted_repeatedly_then_rerun_matches_an_uninterrupted_run(reference: BuildPaths, tmp_path: Path) -> None:
    paths = copy_build(reference, tmp_path / "interrupted", ("manifest", "annotation", "splits"))
    expected = parquet_contents(reference.features_dir, f"{FINISHED}.parquet")
    parts = len([name for name in expected if "/" in name])  # the index is not a part
    script = signal_stages.script("features", pipeline_of(small_config(), tmp_path / "pipeline.yaml"), paths.out)

    def parts_finished() -> int:
        return sum(1 for _ in paths.features_dir.glob(f"*/{FINISHED}.parquet"))

    # Each run is signalled once it has finished a seeded number (1-4) of parts of its own: after the
    # signal the workers finish what they hold, so a run may get well past its point, and an absolute
    # point already reached would signal the next process before Python has even set up (it dies of
    # SIGINT, status -2, no line: seen once). A run that would have nothing left to stop is not started.
    steps = random.Random(f"{SEED}-features").choices(range(1, 5), k=len(POINTS["features"]))
    interrupted = 0
    for step, signum in zip(steps, POINTS["features"], strict=True):
        point = parts_finished() + step
        if point >= parts:
            break
        stopped = interrupt_at(script, parts_finished, point, signum, tmp_path / f"features-{point}.log")
        check_stopped(stopped, signum, "features", paths.out)
        interrupted += 1
    assert interrupted >= 2 and parts_finished() < parts, (interrupted, parts_finished(), parts)
    finish(script, tmp_path / "features-final.log")
    assert not temporaries(paths.out)
    assert parquet_contents(paths.features_dir, f"{FINISHED}.parquet") == expected


def test_publish_interrupted_twice_then_rerun_matches_an_uninterrupted_run(reference: BuildPaths, tmp_path: Path) -> None:
    import datasets  # noqa: F401  (the shards' Array2D extension types read back as in the reference)

    paths = copy_build(reference, tmp_path / "interrupted", ("manifest", "annotation", "splits", "features", "dataset"))
    expected = parquet_contents(reference.dataset, "*.parquet")
    staging = paths.out / "dataset.partial" / "data"
    script = signal_stages.script("publish", pipeline_of(small_config(), tmp_path / "pipeline.yaml"), paths.out)
    # Points in the first half of the shards: publish takes ~2 s in all, and a signal sent at the
    # last shard can land after the process has finished (rc 0, seen once on a loaded machine).
    for at, signum in zip(points("publish", 1, max(3, len(expected) // 2 + 1), 2), POINTS["publish"], strict=True):
        shards_begun = functools.partial(files_since, staging, time.time_ns())
        check_stopped(interrupt_at(script, shards_begun, at, signum, tmp_path / f"publish-{at}.log"), signum, "publish", paths.out)
        # A reader sees the whole old dataset, never half of one.
        assert parquet_contents(paths.dataset, "*.parquet") == expected
    finish(script, tmp_path / "publish-final.log")
    assert not temporaries(paths.out) and not staging.parent.exists()
    assert not (paths.out / "dataset.old").exists()
    assert parquet_contents(paths.dataset, "*.parquet") == expected

