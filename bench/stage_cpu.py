"""Bench helpers: one piece of work in a child process, with the CPU of every process it started.

    python bench/stage_cpu.py JOB.json RESULT.json        (bench/scale.py writes JOB.json)

Why a supervisor: build pools start their workers from a multiprocessing *forkserver*, so the
workers are children of the fork server, not of the stage's process, and `RUSAGE_CHILDREN` of the
stage's process alone misses them (and any ffmpeg they run). The supervisor (this script's entry
point) makes itself a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`), runs the job in a fresh
Python child (`_work`) that exits normally (its pools, fork server and resource tracker then shut
down by themselves), reaps every remaining descendant (orphans are re-parented to a subreaper,
not to init), and reports `RUSAGE_SELF + RUSAGE_CHILDREN`: CPU = user + system seconds of the
whole process tree, peak RSS = the largest `ru_maxrss` of any single process in it.

Also here, because both benches share them: the bench-only label switch (`label_from_truth`: a
kept session's label is the majority latent emotion of its units in `synth_truth.json`, the
planted truth, instead of annotation) and the stage list that runs it in place of the three
annotation stages (`bench_stages`). Nothing in the package depends on this file.

Job kinds (`JOB.json`: `{"kind": ..., ...}`; each returns a dict merged into RESULT.json):

- `build`: `run_build(config, out, start_from=stage, until=stage, stages=bench_stages())` (`force`: its
  `force`, to rerun a stage whose outputs are there);
- `build_all`: the whole `bench_stages()` build, on its local pool or (`dask: true`) with
  `dask_scheduler=` a `distributed.LocalCluster` of `workers` one-thread processes, started in a
  child process of its own (like a user's cluster);
- `clips`: `annotation.clips.make_kept_clips` (the kept sessions, streamed) (optionally one corpus), on a local
  pool of `workers` (or serially with `workers: 0`, then `inner_cpu_s` is the clips' CPU alone);
- `ingest_serial`: `run_ingest` on a one-thread executor, `inner_cpu_s` around it;
- `extract`: one feature extractor over the kept sessions of one corpus (or `repeat_to` of them,
  cycling), serially in this process after a warm-up on the first `warmup` (default 1),
  `inner_cpu_s` and `inner_wall_s` around the loop (the projection's per-media-second cost);
- `decode_floor`: a bare `ffmpeg -threads 1` decode of each session's span of its source video;
- `burn`: a local pool burning CPU in its workers (checks that the supervisor counts them).

Top-level imports are standard library only: a fork server preloads this module.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from edu_affect_data.core.arrow_memory import arrow_pool_environment
from edu_affect_data.core.parallel import THREAD_LIMIT_VARIABLES

#: prctl option that makes orphaned descendants re-parent to this process (linux/prctl.h).
PR_SET_CHILD_SUBREAPER = 36
TRUTH_FILE = "synth_truth.json"


# ------------------------------------------------------------------------- bench-only labels
def label_from_truth(paths: Any, truth: Path, limit: int | None = None) -> int:
    """labels.parquet from synth_truth.json: the majority latent emotion of a kept session's units.

    `paths` is a `BuildPaths`; `limit` keeps the first sessions by id (None: all). Returns the count.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edu_affect_data.core.artifacts import LABELS_SCHEMA

    emotions = {u["id"]: u["emotion"] for u in json.loads(Path(truth).read_text())["units"]}
    sessions = pq.read_table(
        paths.sessions, columns=["session_id", "status", "utterance_ids"]
    ).to_pylist()
    rows = []
    for session in sessions:
        votes = [emotions[u] for u in session["utterance_ids"] if u in emotions]
        if session["status"] == "kept" and votes:
            label = Counter(votes).most_common(1)[0][0]
            rows.append(
                {
                    "session_id": session["session_id"],
                    "label": label,
                    "method": "majority",
                    "votes": [label] * 3,
                    "agreement": 1.0,
                }
            )
    rows = sorted(rows, key=lambda r: r["session_id"])[: limit or None]
    paths.labels.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=LABELS_SCHEMA), paths.labels)
    return len(rows)


def truth_of(config: Any) -> Path:
    """The planted truth written beside the synthetic corpora (`OUT/synth_truth.json`)."""
    roots = [entry.root for entry in config.corpora.values() if entry.root is not None]
    return Path(roots[0]).parent / TRUTH_FILE


def run_truth_labels(config: Any, paths: Any, *, executor: Any = None) -> Any:
    """Bench-only build stage: labels from the planted truth instead of annotate/pull/aggregate."""
    from edu_affect_data.core.stage import StageOutcome

    del executor
    count = label_from_truth(paths, truth_of(config))
    return StageOutcome(True, f"{count} sessions labelled from the planted truth (bench only)",
                        (paths.labels,), {"labelled": count})


def bench_stages() -> tuple[Any, ...]:
    """The build's stages with annotate/pull/aggregate replaced by one `aggregate` from the truth.

    The stand-in keeps the name `aggregate` (it writes what aggregate writes, `labels.parquet`),
    so the split, features and publish specs are the build's own, upstream names included, and
    `build_state.json` records a normal chain. `run_build(..., stages=bench_stages())` is the
    build's documented way to run another stage list; the module must be importable as
    `stage_cpu` (bench/ on `sys.path`, as it is for scripts in bench/).
    """
    from edu_affect_data.build import STAGES, StageSpec

    by_name = {spec.name: spec for spec in STAGES}
    labels = StageSpec("aggregate", "stage_cpu:run_truth_labels", ("corpora",), ("ingest",))
    return (by_name["ingest"], labels, by_name["split"], by_name["features"], by_name["publish"])


# -------------------------------------------------------------------------------------- jobs
def _config(job: dict[str, Any]) -> Any:
    from edu_affect_data.config import load_config

    return load_config(Path(job["config"]) if job.get("config") else None, job.get("overrides") or {})


def cpu_now() -> float:
    """CPU seconds of this process and of the children it has reaped so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _kept_rows(build_out: str, corpus: str | None) -> list[dict[str, Any]]:
    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.core.manifest import read_sessions

    rows = read_sessions(BuildPaths(Path(build_out))).to_pylist()
    return [r for r in rows if r["status"] == "kept" and (corpus is None or r["corpus"] == corpus)]


def _kept_windows(paths: Any) -> list[dict[str, Any]]:
    """corpus and duration_s of the kept sessions (three small columns of the sessions table)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(paths.sessions, columns=["status", "corpus", "duration_s"]).to_pylist()
    return [r for r in rows if r["status"] == "kept"]


def job_build(job: dict[str, Any]) -> dict[str, Any]:
    # Workaround: build.py's Parquet schema digest differs with and without `datasets` imported
    # (its Array2D extension types), so a fresh process running --from publish would find the
    # features outputs "changed". Importing it first is what a one-process build has done by then.
    import datasets  # noqa: F401
    from rich.console import Console

    from edu_affect_data.build import run_build

    result = run_build(
        _config(job), Path(job["out"]), start_from=job["stage"], until=job["stage"], force=job.get("force"),
        stages=bench_stages(),
        console=Console(stderr=True, width=160),
    )
    if not result.complete or job["stage"] not in result.ran:
        raise RuntimeError(f"stage {job['stage']} did not run to completion: {result.message}")
    return {"stats": dict(result.outcomes[job["stage"]].stats)}


#: A LocalCluster in its own process (a Nanny sets OMP_NUM_THREADS=1 in the process that starts it,
#: which would single-thread the build's torch): prints its address, lives until stdin closes.
CLUSTER_SCRIPT = """
import sys
from distributed import LocalCluster
with LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True, dashboard_address=None) as c:
    print(c.scheduler_address, flush=True)
    sys.stdin.read()
"""


#: Dask settings of a cluster that does nothing but the build's tasks (`dask_quiet: true`): an idle
#: 2-worker LocalCluster took 8 % of a core with Dask's defaults and 0.8 % with these
#: (`bench/dask_idle.py`, 2026-12-06): each process's 20-ms event-loop tick, the workers' statistical profiler (a stack
#: sample every 10 ms), the nannies' 100-ms memory monitor and the 500-ms system monitor.
QUIET_CLUSTER = {
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}


def job_build_all(job: dict[str, Any]) -> dict[str, Any]:
    """The whole bench build on the build's own pool, or with `dask: true` on a LocalCluster process."""
    from rich.console import Console

    from edu_affect_data.build import run_build

    config, out, workers = _config(job), Path(job["out"]), int(job["workers"])
    console = Console(stderr=True, width=160)
    if not job.get("dask"):
        started = time.perf_counter()
        result = run_build(config, out, stages=bench_stages(), console=console)
        return {"complete": result.complete, "build_wall_s": time.perf_counter() - started}
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", CLUSTER_SCRIPT, str(workers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, **(QUIET_CLUSTER if job.get("dask_quiet") else {})},
    ) as cluster:
        assert cluster.stdout is not None and cluster.stdin is not None
        address = cluster.stdout.readline().strip()
        cluster_s = time.perf_counter() - started
        started = time.perf_counter()
        result = run_build(config, out, stages=bench_stages(), dask_scheduler=address, console=console)
        build_s = time.perf_counter() - started
        cluster.stdin.close()
    return {"complete": result.complete, "build_wall_s": build_s, "cluster_start_s": cluster_s}


def job_clips(job: dict[str, Any]) -> dict[str, Any]:
    from edu_affect_data.annotation.clips import make_kept_clips
    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.core.parallel import local_pool

    config = _config(job)
    paths, media_root, corpus = BuildPaths(Path(job["out"])), Path(job["media_root"]), job.get("corpus")
    workers = int(job.get("workers", 0))
    started = cpu_now()
    if workers:
        with local_pool(workers) as pool:
            results = make_kept_clips(paths, media_root, config.annotation.clip, executor=pool, corpus=corpus)
    else:
        results = make_kept_clips(paths, media_root, config.annotation.clip, corpus=corpus)
    kept = [r for r in _kept_windows(paths) if corpus in (None, r["corpus"])]
    return {
        "sessions": len(results),
        "media_s": sum(float(r["duration_s"]) for r in kept),
        "made": sum(1 for r in results if r.made),
        "inner_cpu_s": cpu_now() - started,  # the clips' own CPU only when serial (workers 0)
    }


def job_ingest_serial(job: dict[str, Any]) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.stages.ingest import run_ingest

    config = _config(job)
    started = cpu_now()
    with ThreadPoolExecutor(max_workers=1) as serial:  # in this process: its CPU is ours
        outcome = run_ingest(config, BuildPaths(Path(job["out"])), executor=serial)
    return {"inner_cpu_s": cpu_now() - started, "stats": dict(outcome.stats)}


def job_extract(job: dict[str, Any]) -> dict[str, Any]:
    """One extractor over one corpus's kept sessions, serially here, after a warm-up run."""
    from edu_affect_data.stages.features.inputs import session_input
    from edu_affect_data.stages.features.registry import get_extractor

    config = _config(job)
    extractor = get_extractor(job["extractor"])
    settings = extractor.settings(config)
    sessions = [session_input(row, Path(job["out"])) for row in _kept_rows(job["out"], job.get("corpus"))]
    sessions = sessions[: job.get("limit") or None]
    if job.get("repeat_to") and sessions:  # full batches, as thousands of sessions would give
        sessions = [sessions[i % len(sessions)] for i in range(int(job["repeat_to"]))]
    batched = extractor.runs_batched(settings)

    def run(chunk: list[Any]) -> list[dict[str, Any]]:
        if batched:
            return extractor.extract_batch(chunk, settings)
        return [extractor.extract(session, settings) for session in chunk]

    warmup = int(job.get("warmup", 1))
    if warmup:
        run(sessions[:warmup])  # model loading, numba, first shapes: once per process, not per session
    wall = time.perf_counter()
    started = cpu_now()
    values = run(sessions)
    cpu = cpu_now() - started
    wall = time.perf_counter() - wall
    extractor.close()
    frames = sum(len(v.get("frame_times", ())) for v in values)
    return {
        "sessions": len(sessions),
        "media_s": sum(s.duration_s for s in sessions),
        "frames": frames,
        "inner_cpu_s": cpu,
        "inner_wall_s": wall,
    }


def job_decode_floor(job: dict[str, Any]) -> dict[str, Any]:
    """Bare one-thread ffmpeg decode of every kept session's span of its video (children's CPU)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    rows = _kept_rows(job["out"], job.get("corpus"))[: job.get("limit") or None]
    started = cpu_now()
    for row in rows:
        start, duration = float(row["start_s"]), float(row["end_s"]) - float(row["start_s"])
        subprocess.run(
            [get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
             "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", row["video_path"], "-an", "-f", "null", "-"],
            check=True,
        )
    return {"sessions": len(rows), "media_s": sum(float(r["duration_s"]) for r in rows),
            "inner_cpu_s": cpu_now() - started}


def _burn(seconds: float) -> float:
    """Spin on the CPU for `seconds` of this process's CPU time."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start


def job_burn(job: dict[str, Any]) -> dict[str, Any]:
    """Workers of a forkserver pool burn `tasks x seconds` of CPU; this process only waits."""
    from edu_affect_data.core.parallel import local_pool

    with local_pool(int(job["workers"])) as pool:
        burned = sum(pool.map(_burn, [float(job["seconds"])] * int(job["tasks"])))
    return {"burned_s": burned, "work_process_cpu_s": cpu_now()}


JOBS = {
    "build": job_build,
    "build_all": job_build_all,
    "clips": job_clips,
    "ingest_serial": job_ingest_serial,
    "extract": job_extract,
    "decode_floor": job_decode_floor,
    "burn": job_burn,
}


def _work(job_path: Path, result_path: Path) -> None:
    """The job itself (a fresh interpreter started by the supervisor); writes its own figures."""
    job = json.loads(job_path.read_text())
    started = time.perf_counter()
    figures = JOBS[job["kind"]](job)
    figures["work_wall_s"] = time.perf_counter() - started
    result_path.write_text(json.dumps(figures, default=str))


# -------------------------------------------------------------------------------- supervisor
def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def supervise(job_path: Path, result_path: Path) -> dict[str, Any]:
    """Run the job in a child, reap the whole tree, return its figures plus CPU and peak RSS."""
    become_subreaper()
    inner = result_path.with_suffix(".work.json")
    inner.unlink(missing_ok=True)
    wall = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--work", str(job_path), str(inner)], check=False)
    while True:  # orphans (a fork server, its workers, a resource tracker) are ours to reap now
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    wall = time.perf_counter() - wall
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    figures: dict[str, Any] = json.loads(inner.read_text()) if inner.exists() else {}
    figures.update(
        {
            "returncode": child.returncode,
            "cpu_s": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            "peak_rss_mb": max(own.ru_maxrss, children.ru_maxrss) / 1024,  # kB on Linux
            "wall_s": wall,
        }
    )
    result_path.write_text(json.dumps(figures, default=str))
    return figures


def run_job(job: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
    """Run `job` under a fresh supervisor process; its figures (raises if the job failed)."""
    folder.mkdir(parents=True, exist_ok=True)
    job_path, result_path = folder / f"{name}.job.json", folder / f"{name}.result.json"
    job_path.write_text(json.dumps(job, default=str))
    result_path.unlink(missing_ok=True)
    # `threads`: the job's native thread pools (torch, BLAS) capped, e.g. 1 for a piece whose CPU
    # time stands for its wall on a core of its own.
    # The Arrow allocator the `edu-data` command chooses (core.arrow_memory): a job measures what it runs.
    env = {**os.environ, **arrow_pool_environment(os.environ, sys.platform)}
    if job.get("threads"):
        env.update({name: str(job["threads"]) for name in THREAD_LIMIT_VARIABLES})
    subprocess.run([sys.executable, __file__, str(job_path), str(result_path)], check=True, env=env)
    figures: dict[str, Any] = json.loads(result_path.read_text())
    if figures["returncode"] != 0:
        raise RuntimeError(f"{name}: the job failed (exit {figures['returncode']}); see the output above")
    return figures


def main(argv: list[str]) -> None:
    if argv[:1] == ["--work"]:
        _work(Path(argv[1]), Path(argv[2]))
    else:
        supervise(Path(argv[0]), Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
