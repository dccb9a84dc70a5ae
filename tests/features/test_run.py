"""run_features: resumable after a crash or kill -9 with identical content; Dask executor path."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.features.run import FeatureError, run_features
from tests.features.fake_build import published_build, small_config


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    """An uninterrupted build (shared with the dataset tests)."""
    return published_build(tmp_path_factory.getbasetemp())


def fresh_copy(reference: BuildPaths, target: Path) -> BuildPaths:
    """The reference's manifest, labels and assignment, without features."""
    for folder in ("manifest", "annotation", "splits"):
        shutil.copytree(reference.out / folder, target / folder)
    return BuildPaths(target)


#: A finished part (a write in progress is a hidden temporary that also ends in .parquet).
PART = "[!.]*.parquet"
#: The per-session extractors of the default pipeline (one part per session each, in its folder).
PER_SESSION = ("mfcc", "frames")


def session_parts(paths: BuildPaths, extractors: tuple[str, ...] = PER_SESSION) -> list[Path]:
    return [p for name in extractors for p in sorted((paths.features_dir / name).glob(PART))]


def part_contents(paths: BuildPaths) -> dict[str, Any]:
    return {
        f"{p.parent.name}/{p.name}": pq.read_table(p).to_pylist()
        for p in sorted(paths.features_dir.rglob(PART))
    }


class CrashingExecutor(cf.ThreadPoolExecutor):
    """A thread pool whose task for one session raises, as a crashing worker would."""

    def __init__(self, victim: str) -> None:
        super().__init__(max_workers=2)
        self.victim = victim

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if args and args[0].session.session_id == self.victim:

            def crash() -> None:
                raise RuntimeError("simulated worker crash")

            return super().submit(crash)
        return super().submit(fn, *args, **kwargs)


@pytest.mark.slow
def test_resume_after_a_crash_recomputes_nothing_finished_and_matches(
    reference: BuildPaths, tmp_path: Path
) -> None:
    paths = fresh_copy(reference, tmp_path)
    config = small_config()
    victim = "Ses02F_impro01_F001"
    with (
        CrashingExecutor(victim) as crashing,
        pytest.raises(FeatureError, match=f"session {victim}: RuntimeError"),
    ):
        run_features(config, paths, executor=crashing)
    total = len(session_parts(reference))
    finished = {p: p.stat().st_mtime_ns for p in session_parts(paths)}
    assert 0 < len(finished) < total
    assert not list(paths.features_dir.rglob("*.tmp*"))

    outcome = run_features(config, paths)
    assert outcome.stats["session_parts_reused"] == len(finished)
    assert outcome.stats["session_parts_computed"] == total - len(finished)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())
    assert part_contents(paths) == part_contents(reference)

    # Nothing left to do: the index is not rewritten, so the stage's output listing is unchanged.
    # The index temporary of a run killed while writing it goes; a live writer's stays.
    written = paths.features_index.stat().st_mtime_ns
    finished_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    killed = paths.features_dir / f".index.tmp-{finished_pid}.parquet"
    live = paths.features_dir / f".index.tmp-{os.getpid()}.parquet"
    killed.write_bytes(b"PAR1 half")
    live.write_bytes(b"PAR1 half")
    again = run_features(config, paths)
    assert again.stats["session_parts_computed"] == again.stats["batch_parts_computed"] == 0
    assert again.stats["stale_removed"] == 1 and not killed.exists() and live.exists()
    assert paths.features_index.stat().st_mtime_ns == written


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_resume_after_kill_9_matches_an_uninterrupted_run(
    reference: BuildPaths, tmp_path: Path
) -> None:
    paths = fresh_copy(reference, tmp_path)
    script = (
        "from tests.features.fake_build import small_config\n"
        "from edu_affect_data.core.artifacts import BuildPaths\n"
        "from edu_affect_data.stages.features.run import run_features\n"
        f"run_features(small_config(**{{'features.workers': 1}}), BuildPaths({str(paths.out)!r}))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    frames = paths.features_dir / "frames"  # a session's last per-session part
    deadline = time.monotonic() + 120
    while (
        len(list(frames.glob(PART))) < 3
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    survived = len(list(frames.glob(PART)))
    assert 3 <= survived < len(list((reference.features_dir / "frames").glob(PART)))

    outcome = run_features(small_config(), paths)
    assert outcome.stats["session_parts_reused"] >= 2 * survived
    assert part_contents(paths) == part_contents(reference)


@pytest.mark.slow
def test_dask_executor_gives_the_same_parts(reference: BuildPaths, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    paths = fresh_copy(reference, tmp_path)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        outcome = run_features(small_config(), paths, executor=client.get_executor())
    assert outcome.stats["session_parts_computed"] == len(session_parts(reference))
    assert part_contents(paths) == part_contents(reference)


@pytest.mark.slow
def test_damaged_parts_are_recomputed_not_reused(reference: BuildPaths, tmp_path: Path) -> None:
    """A part changed after it was written (cut short, overwritten) is found by its footer and redone."""
    paths = fresh_copy(reference, tmp_path)
    shutil.copytree(reference.features_dir, paths.features_dir)
    session_part = session_parts(paths)[0]
    session_part.write_bytes(session_part.read_bytes()[: session_part.stat().st_size // 2])  # cut short
    chunk_part = sorted((paths.features_dir / "text").glob(PART))[0]
    chunk_part.write_bytes(b"not parquet at all")
    untouched = {p: p.stat().st_mtime_ns for p in session_parts(paths) if p != session_part}

    outcome = run_features(small_config(), paths)
    assert outcome.stats["damaged_parts_recomputed"] == 2
    assert outcome.stats["session_parts_computed"] == 1 and outcome.stats["batch_parts_computed"] == 1
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in untouched.items())
    assert part_contents(paths) == part_contents(reference)
