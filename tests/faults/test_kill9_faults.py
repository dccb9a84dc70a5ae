"""Kill -9 at seeded points of clips, features and publish: the rerun matches an uninterrupted run.

Each stage runs in a subprocess (its own process group, so the kill also takes its pool workers
and ffmpeg) that is killed with SIGKILL once it has begun or finished its k-th file; the points k
are drawn from a seeded generator, and counting files rather than seconds keeps the kill points
the same on a loaded machine. Clips are killed while ffmpeg cuts the k-th clip and publish while
it writes its k-th shard (both leave a half-written temporary); features between parts, three
times among the per-session parts and once while the text encoder runs its batches. Clips and
features resume, so their kills are chained (each rerun is killed again further on); publish
starts over, so each of its kills starts from the previous one's leftovers.
A last uninterrupted rerun must then give exactly the reference's content: every feature part and
dataset shard equal row for row, every clip byte for byte, and no temporary left anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from edu_affect_data.annotation.clips import clips_dir, make_clips, probe_clip
from edu_affect_data.annotation.options import ClipConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.features.run import run_features
from edu_affect_data.stages.publish import run_publish
from tests.annotation.small_corpus import SmallCorpus, write_corpus
from tests.features.fake_build import published_build, small_config

#: Every case kills a stage in a subprocess and reruns it; a kill waits up to 120 s for its point.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]
SEED = 13
#: Kill points per stage (10 in all).
KILLS = {"clips": 3, "features": 4, "publish": 3}
CLIP = ClipConfig(height=96, fps=12.5, crf=30)
#: A finished file (a write in progress is a hidden temporary `.name.tmp-<pid>.ext`).
FINISHED = "[!.]*"
TEMPORARY = ".*.tmp-*"


def kill_points(stage: str, files: int, count: int | None = None, first: int = 1) -> list[int]:
    """`count` (default `KILLS[stage]`) distinct file counts in first..files-1, ascending, from a per-stage seed."""
    rng = random.Random(f"{SEED}-{stage}-{first}")
    return sorted(rng.sample(range(first, files), KILLS[stage] if count is None else count))


def kill_after(script: str, count: Callable[[], int], at: int, log: Path) -> int:
    """Run `script`, SIGKILL its process group once `count()` reaches `at`; how many files there are then."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 120
        while count() < at and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        running = process.poll() is None
        if running:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert running, f"ended (rc {process.returncode}) before its kill point {at}:\n{log.read_text()[-3000:]}"
    assert process.returncode == -signal.SIGKILL
    return count()


def parquet_contents(folder: Path, pattern: str) -> dict[str, list[dict[str, Any]]]:
    """Every finished Parquet file under `folder` by relative path, read back row by row."""
    return {
        p.relative_to(folder).as_posix(): pq.read_table(p).to_pylist()
        for p in sorted(folder.rglob(pattern))
    }


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(TEMPORARY))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    """An uninterrupted build (shared with the features and dataset tests)."""
    return published_build(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SmallCorpus:
    return write_corpus(tmp_path_factory.mktemp("kill9_corpus"))


def copy_build(reference: BuildPaths, target: Path, folders: tuple[str, ...]) -> BuildPaths:
    for folder in folders:
        shutil.copytree(reference.out / folder, target / folder)
    return BuildPaths(target)


def test_clips_killed_3_times_then_rerun_are_the_uninterrupted_clips(
    corpus: SmallCorpus, tmp_path: Path
) -> None:
    sessions = [r for r in pq.read_table(corpus.sessions).to_pylist() if r["status"] == "kept"]
    expected = make_clips(sessions, tmp_path / "reference", CLIP)
    media = tmp_path / "killed"
    folder = clips_dir(media)
    script = (
        "import pyarrow.parquet as pq\n"
        "from edu_affect_data.annotation.clips import make_clips\n"
        "from edu_affect_data.annotation.options import ClipConfig\n"
        f"rows = [r for r in pq.read_table({str(corpus.sessions)!r}).to_pylist() if r['status'] == 'kept']\n"
        f"make_clips(rows, {str(media)!r}, ClipConfig(height={CLIP.height}, fps={CLIP.fps}, crf={CLIP.crf}))\n"
    )
    left: list[int] = []
    for at in kill_points("clips", len(sessions)):
        # Clips begun: the finished ones and the one ffmpeg is cutting into a temporary.
        kill_after(script, lambda: len(list(folder.glob("*.mp4"))), at, tmp_path / f"clips-{at}.log")
        left.append(len(temporaries(folder)))
    assert len(left) == KILLS["clips"] and sum(left) >= 1  # some kill caught ffmpeg mid-clip
    finished = len(list(folder.glob(f"{FINISHED}.mp4")))
    assert finished < len(sessions)

    results = make_clips(sessions, media, CLIP)
    assert sum(r.made for r in results) == len(sessions) - finished
    assert not temporaries(folder)
    for session, result, reference in zip(sessions, results, expected, strict=True):
        probe = probe_clip(result.path)
        assert probe is not None and probe.video is not None and probe.audio is not None
        assert (probe.video.codec, probe.audio.codec) == ("h264", "aac")
        assert probe.duration_s == pytest.approx(session["end_s"] - session["start_s"], abs=0.15)
        assert digest(result.path) == digest(reference.path)
        assert result.path.with_suffix(".txt").read_text() == reference.path.with_suffix(".txt").read_text()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_features_killed_4_times_then_rerun_match_an_uninterrupted_run(
    reference: BuildPaths, tmp_path: Path
) -> None:
    paths = copy_build(reference, tmp_path, ("manifest", "annotation", "splits"))
    expected = parquet_contents(reference.features_dir, f"{FINISHED}.parquet")
    parts = len([name for name in expected if "/" in name])  # the index is not a part
    script = (
        "from tests.features.fake_build import small_config\n"
        "from edu_affect_data.core.artifacts import BuildPaths\n"
        "from edu_affect_data.stages.features.run import run_features\n"
        f"run_features(small_config(**{{'features.workers': 1}}), BuildPaths({str(paths.out)!r}))\n"
    )

    def finished_parts() -> int:
        return sum(1 for _ in paths.features_dir.glob(f"*/{FINISHED}.parquet"))

    session_parts = len([name for name in expected if not name.startswith("text/")])
    points = kill_points("features", session_parts, KILLS["features"] - 1)
    points += kill_points("features", parts, 1, first=session_parts + 1)  # while the encoder runs
    survived = [kill_after(script, finished_parts, at, tmp_path / f"features-{at}.log") for at in points]
    assert len(survived) == KILLS["features"] and survived[-1] < parts

    outcome = run_features(small_config(), paths)
    reused = int(outcome.stats["session_parts_reused"]) + int(outcome.stats["batch_parts_reused"])
    assert reused == survived[-1]
    assert not temporaries(paths.out)
    assert parquet_contents(paths.features_dir, f"{FINISHED}.parquet") == expected


def test_publish_killed_3_times_then_rerun_matches_an_uninterrupted_run(
    reference: BuildPaths, tmp_path: Path
) -> None:
    import datasets  # noqa: F401  (the shards' Array2D extension types read back as in the reference)

    # With the reference's dataset in place, so each run also replaces a published dataset.
    paths = copy_build(reference, tmp_path, ("manifest", "annotation", "splits", "features", "dataset"))
    expected = parquet_contents(reference.dataset, "*.parquet")
    staging = paths.out / "dataset.partial" / "data"
    script = (
        "from tests.features.fake_build import small_config\n"
        "from edu_affect_data.core.artifacts import BuildPaths\n"
        "from edu_affect_data.stages.publish import run_publish\n"
        f"run_publish(small_config(), BuildPaths({str(paths.out)!r}))\n"
    )
    for at in kill_points("publish", len(expected)):
        kill_after(script, functools.partial(files_since, staging, time.time_ns()), at, tmp_path / f"publish-{at}.log")
        # A reader sees the whole old dataset or none, never half of one.
        assert not paths.dataset.exists() or parquet_contents(paths.dataset, "*.parquet") == expected

    run_publish(small_config(), paths)
    assert not temporaries(paths.out) and not staging.parent.exists()
    assert not (paths.out / "dataset.old").exists()
    assert (paths.dataset / "README.md").is_file()
    assert parquet_contents(paths.dataset, "*.parquet") == expected


def files_since(folder: Path, since_ns: int) -> int:
    """Files in `folder` written since `since_ns`: those a run opened, not the leftovers of an earlier
    run (which it deletes)."""
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if _newer(p, since_ns))


def _newer(path: Path, since_ns: int) -> bool:
    try:
        return path.stat().st_mtime_ns >= since_ns
    except FileNotFoundError:  # renamed or deleted between the listing and the stat
        return False
