"""A build on a real Dask cluster gives the dataset a local process pool gives (issue 24, item 7).

The cluster is the one `docs/pipeline.md` tells users to start: `dask scheduler`, then `dask worker
ADDRESS --nworkers N --nthreads 1`, each a separate process (here on 127.0.0.1, ports chosen by the
system, the workers with this checkout on their PYTHONPATH as an installed project would be), and
the build is pointed at the address the scheduler prints (`dask_scheduler=`, the code behind
`--dask-scheduler`). Other tests use `LocalCluster` inside the test process; only this one crosses
real process and network boundaries: every task, its arguments and its result are pickled to a
worker the build did not start, which is what a user's cluster does.

Both builds run the demo pipeline on the `tiny` corpora with labels from the planted truth (the
benches' stage list, `bench/stage_cpu.py:bench_stages`: annotation needs people), each in a fresh
Python process so that neither inherits the other's state; every file of the two `dataset/`
folders (the Parquet shards, named by their content, and the card) must be byte-identical.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edu_affect_data.core.fingerprint import file_digest

REPO = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).with_name("dask")
WORKERS = 2
#: The line `dask scheduler` logs once it listens (the docs: "prints tcp://HOST:8786").
LISTENING = re.compile(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)")
START_TIMEOUT_S = 60.0

BUILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(sys.argv[1]) / "bench"))
    from stage_cpu import bench_stages

    from edu_affect_data.build import run_build
    from edu_affect_data.config import load_config

    corpora, out = Path(sys.argv[2]), Path(sys.argv[3])
    workers, scheduler = int(sys.argv[4]), (sys.argv[5] if len(sys.argv) > 5 else None)
    config = load_config(Path(sys.argv[1]) / "pipelines" / "demo.yaml", {
        "corpora.iemocap.root": str(corpora / "IEMOCAP_full_release"),
        "corpora.mosei.root": str(corpora / "CMU_MOSEI"),
        "sessions.min_s": 4.0, "sessions.target_s": 6.0, "sessions.max_s": 8.0,
        "balance.per_class": 1000,
        "features.workers": workers,
    })
    result = run_build(config, out, stages=bench_stages(), dask_scheduler=scheduler)
    sys.exit(0 if result.complete else 1)
    """
)


def environment() -> dict[str, str]:
    """This checkout first on PYTHONPATH (for the workers too); quiet, offline, one torch thread."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "OMP_NUM_THREADS": "1",
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": "1",
    }


def build(corpora: Path, out: Path, scheduler: str | None = None) -> None:
    command = [
        sys.executable,
        "-c",
        BUILD,
        str(REPO),
        str(corpora),
        str(out),
        str(WORKERS),
        *([scheduler] if scheduler else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group (a worker's nanny and its worker processes), SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(
    what: str, ready: Iterator[str | None] | None, process: subprocess.Popen[bytes], log: Path
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        found = next(ready) if ready is not None else None
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(
        f"{what} not ready after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
    )


def scheduler_address(log: Path) -> Iterator[str | None]:
    while True:
        found = LISTENING.search(log.read_text()) if log.exists() else None
        yield found.group(1) if found else None


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """The docs' recipe on 127.0.0.1: a scheduler, then WORKERS one-thread worker processes; its address."""
    started: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "cluster"
    logs.mkdir()

    def start(name: str, *arguments: str) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(DASK), *arguments], stdout=log, stderr=subprocess.STDOUT, env=environment(),
                cwd=logs, start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    try:
        scheduler = start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"
        )
        address = wait_for(
            "dask scheduler",
            scheduler_address(logs / "scheduler.log"),
            scheduler,
            logs / "scheduler.log",
        )
        workers = start(
            "worker", "worker", address, "--nworkers", str(WORKERS), "--nthreads", "1",
            "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(logs),
        )  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(WORKERS, timeout=START_TIMEOUT_S)
            assert workers.poll() is None
            pids = client.run(os.getpid)
        assert len(pids) == WORKERS and os.getpid() not in pids.values()  # processes of their own
        yield address
    finally:
        # Workers first, so that they do not wait for a scheduler that has left.
        for process in reversed(started):
            stop(process)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_build_on_a_dask_scheduler_and_workers_equals_a_pool_build(
    tiny_corpora: Path, dask_cluster: str, tmp_path: Path
) -> None:
    build(tiny_corpora, tmp_path / "on-dask", dask_cluster)
    build(tiny_corpora, tmp_path / "on-pool")
    dask_files, pool_files = (
        {
            p.relative_to(root).as_posix(): file_digest(p)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        for root in (tmp_path / "on-dask" / "dataset", tmp_path / "on-pool" / "dataset")
    )
    assert any(name.endswith(".parquet") for name in pool_files)
    assert dask_files == pool_files
    counts = tasks_run(dask_cluster)
    # The work ran on the cluster, on every worker.
    assert len(counts) == WORKERS and min(counts.values()) > 0, counts


def tasks_run(address: str) -> dict[str, int]:
    """Tasks each worker of the cluster has executed so far."""
    from distributed import Client

    def executed(dask_worker: object) -> int:
        return int(dask_worker.state.executed_count)  # type: ignore[attr-defined]

    with Client(address, timeout="30s") as client:
        return client.run(executed)
