"""A full disk during features: one clear line naming the folder, nothing half-written, then a resume.

The real case mounts a size-limited tmpfs under the build folder (Linux, root or CAP_SYS_ADMIN:
the test says so when it skips), fills it with the features stage, then grows it with
`mount -o remount,size=...` as an operator freeing space would, and reruns. The simulated case
runs everywhere: the part writer raises ENOSPC after a few parts, half-way through a file, as
pyarrow does when the disk fills.
"""

from __future__ import annotations

import concurrent.futures as cf
import errno
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from edu_affect_data.cli.errors import EXIT_FAILED, one_line
from edu_affect_data.cli.errors import exit_status as cli_exit_status
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.features import parts as parts_module
from edu_affect_data.stages.features.run import FeatureError, run_features
from tests.features import test_run
from tests.features.fake_build import small_config

#: Both cases run the features stage end to end twice.
pytestmark = pytest.mark.slow
#: A finished part (a write in progress is a hidden temporary).
PART = "*/[!.]*.parquet"
#: Room for the copied tables and about a third of the reference's features (about 7.8 MB).
SMALL = "3m"
BIG = "64m"


#: The uninterrupted reference build and the copy of its inputs, shared with `tests/features/test_run.py`.
reference = test_run.reference
copy_inputs = test_run.fresh_copy


def contents(paths: BuildPaths) -> dict[str, Any]:
    return {
        p.relative_to(paths.features_dir).as_posix(): pq.read_table(p).to_pylist()
        for p in sorted(paths.features_dir.glob(PART))
    }


def assert_clear_and_clean(error: FeatureError, paths: BuildPaths) -> None:
    """One line naming the features folder and the cause (also on the CLI, exit 1); nothing half-written."""
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{paths.features_dir}: no space left on device while writing ")
    assert "rerun" in message
    assert (one_line(error), cli_exit_status(error)) == (message, EXIT_FAILED)
    assert not list(paths.out.rglob(".*.tmp-*"))
    for part in paths.features_dir.glob(PART):
        pq.read_table(part)  # every part there is whole


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A `SMALL` tmpfs mounted at `tmp_path/disk`, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL}", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root on Linux): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_tmpfs_stops_features_clearly_and_a_rerun_resumes_once_space_is_freed(
    reference: BuildPaths, small_disk: Path
) -> None:
    paths = copy_inputs(reference, small_disk / "out")
    with pytest.raises(FeatureError) as raised:
        run_features(small_config(), paths)
    assert_clear_and_clean(raised.value, paths)
    finished = {p: p.stat().st_mtime_ns for p in paths.features_dir.glob(PART)}
    assert 0 < len(finished) < len(contents(reference))
    assert not paths.features_index.exists()

    subprocess.run(["mount", "-o", f"remount,size={BIG}", str(small_disk)], check=True)
    outcome = run_features(small_config(), paths)
    reused = int(outcome.stats["session_parts_reused"]) + int(outcome.stats["batch_parts_reused"])
    assert reused == len(finished)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())
    assert contents(paths) == contents(reference)
    assert pq.read_table(paths.features_index).equals(pq.read_table(reference.features_index))


def test_enospc_from_the_part_writer_stops_features_clearly_and_a_rerun_resumes(
    reference: BuildPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without a mount: after 7 parts, writing stops half-way with ENOSPC."""
    paths = copy_inputs(reference, tmp_path / "out")
    real_write = parts_module.pq.write_table
    started: list[Path] = []
    counting = threading.Lock()

    def filling_write(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        # Two worker threads write at once: a part takes its place in the count under the lock,
        # before it is written, so exactly the first 7 writes get room, whatever the timing.
        with counting:
            place = len(started)
            started.append(Path(where))
        if place >= 7:
            Path(where).write_bytes(b"PAR1" + b"\0" * 100)  # the disk took part of the file
            raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: No space left on device")
        real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(parts_module.pq, "write_table", filling_write)
    # In-process workers, so the patched writer is the one they call.
    with cf.ThreadPoolExecutor(max_workers=2) as threads, pytest.raises(FeatureError) as raised:
        run_features(small_config(), paths, executor=threads)
    assert_clear_and_clean(raised.value, paths)
    finished = len(list(paths.features_dir.glob(PART)))
    assert finished == 7

    monkeypatch.setattr(parts_module.pq, "write_table", real_write)  # space freed
    outcome = run_features(small_config(), paths)
    assert int(outcome.stats["session_parts_reused"]) + int(outcome.stats["batch_parts_reused"]) == 7
    assert contents(paths) == contents(reference)
