"""Stage `features`: every selected extractor over every assigned session, committed as parts + an index.

Per-session extractors (`runs_batched` false: MFCC, JPEG-only frames, plugins) run in worker
processes, one task per session through `parallel_map` on a `concurrent.futures.Executor` (the
build's pool, a Dask `Client.get_executor()`, or a local pool), and the worker writes the
session's part of each extractor itself so no frames travel back through pickling. Batched
extractors (the text encoder, the frame embedder) run in the parent's main thread while the
workers do the per-session media work, in fixed chunks of each split's sessions sorted by id, so a
resumed run batches exactly like an uninterrupted one and produces the same floats.

The model work is in the main thread because that is where Ctrl-C and SIGTERM arrive
(`core.interrupt`): an interrupted build stops between two forward passes. A helper thread feeds
the workers and collects their figures; it only waits on futures and writes nothing, so an
interruption never waits for it (were the model in a thread, the stage would wait for a chunk of
32 sessions' frames to be embedded, tens of seconds, before it could stop).

Each part is named by the hash of its inputs (the session's media and window, the extractor and
its settings), so after a crash or kill -9 a rerun computes only what is missing; an extractor
added to `features.extractors` computes only its own parts. The stage ends by writing
`features/index.parquet`, the only thing publish reads of it.

A full disk is an error of its own (`no space left on device`, naming the folder): the part being
written is removed with its temporary, the finished ones stay, and a rerun once space is freed
computes only the rest.
"""

from __future__ import annotations

import errno
import shutil
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from pydantic import BaseModel

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.atomic import remove_stale_temporaries
from edu_affect_data.core.fingerprint import json_digest
from edu_affect_data.core.parallel import WorkerLost, executor_or_pool, parallel_map, result_of
from edu_affect_data.core.progress import Progress, track
from edu_affect_data.core.stage import StageOutcome
from edu_affect_data.stages.features import parts
from edu_affect_data.stages.features.extractor import ExtractorError, FeatureExtractor, SessionInput
from edu_affect_data.stages.features.index import IndexEntry, PartRef, write_index
from edu_affect_data.stages.features.inputs import FeatureError, load_plan, session_input
from edu_affect_data.stages.features.options import FeatureSettings
from edu_affect_data.stages.features.registry import selected_extractors
from edu_affect_data.stages.features.schema import extractor_features, part_features, rows_to_table

if TYPE_CHECKING:
    import concurrent.futures as cf

    import datasets

__all__ = ["FeatureError", "load_plan", "run_features"]

R = TypeVar("R")


@dataclass(frozen=True)
class PartJob:
    """One part to write: an extractor, its settings and types, the file named by its input hash."""

    extractor: FeatureExtractor[Any]
    settings: BaseModel
    features: datasets.Features
    part: Path
    digest: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The extractor's columns under these settings (the part's, less the session id)."""
        return tuple(name for name in self.features if name != "session_id")


@dataclass(frozen=True)
class SessionTask:
    """Everything a worker needs for one session (picklable, no shared state): its missing parts."""

    session: SessionInput
    jobs: tuple[PartJob, ...]


@dataclass(frozen=True)
class SessionResult:
    session_id: str
    #: Seconds per extractor, and each extractor's declared stats as `<name>.<stat>`.
    figures: dict[str, float]


@dataclass(frozen=True)
class Chunk:
    """A fixed batch of one split's sessions for a batched extractor, and the part it is written to."""

    job: PartJob
    sessions: tuple[SessionInput, ...]


@dataclass(frozen=True)
class Plan:
    """Where every session's columns of every extractor go."""

    sessions: list[tuple[SessionInput, str]]  # (session, split) in dataset order
    tasks: list[SessionTask]  # sessions with per-session parts still to write
    chunks: list[Chunk]  # every batched chunk, existing or not
    refs: dict[str, list[PartRef]]  # session id -> its parts, in extractor order
    columns: dict[str, tuple[str, ...]]  # extractor -> the columns its settings declare
    kept: dict[str, list[Path]]  # extractor -> the part files of this plan
    per_session_parts: int
    #: Every extractor's columns and their types, in `features.extractors` order.
    column_types: datasets.Features
    #: Parts on disk that were damaged (unreadable, wrong row count), deleted to be recomputed.
    damaged: int = 0


def _values(
    extractor: FeatureExtractor[Any], columns: tuple[str, ...], values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Split what `extract` returned into the declared `columns` and stats; anything else is an error."""
    missing = [c for c in columns if c not in values]
    unknown = sorted(set(values) - set(columns) - set(extractor.stats))
    if missing or unknown:
        raise ExtractorError(
            f"extractor {extractor.name!r} returned no {missing} / undeclared {unknown} (columns "
            f"{list(columns)}, stats {list(extractor.stats)})"
        )
    stats = {f"{extractor.name}.{k}": float(values[k]) for k in extractor.stats if k in values}
    return {c: values[c] for c in columns}, stats


def extract_session(task: SessionTask) -> SessionResult:
    """Worker task: the missing parts of one session, each written atomically. Top-level so it pickles."""
    figures: dict[str, float] = {}
    for job in task.jobs:
        started = time.perf_counter()
        values = job.extractor.extract(task.session, job.settings)
        columns, stats = _values(job.extractor, job.columns, values)
        row = {"session_id": task.session.session_id, **columns}
        parts.write_part(rows_to_table([row], job.features), job.part)
        figures[f"{job.extractor.name}_s"] = time.perf_counter() - started
        figures.update(stats)
    return SessionResult(task.session.session_id, figures)


def plan_parts(plan: pd.DataFrame, config: FeatureSettings, folder: Path, *, build_dir: Path | None = None) -> Plan:
    """Name every part from its inputs; the tasks hold only the per-session parts not on disk yet.

    `build_dir`: the build folder the sessions' proxy paths lie in (hashed relative to it).
    """
    extractors = selected_extractors(list(config.features.extractors))
    sessions = [(session_input(row, build_dir), str(row["split"])) for _, row in plan.iterrows()]
    refs: dict[str, list[PartRef]] = {s.session_id: [] for s, _ in sessions}
    kept: dict[str, list[Path]] = {}
    todo: dict[str, list[PartJob]] = {s.session_id: [] for s, _ in sessions}
    chunks: list[Chunk] = []
    per_session_parts = 0
    damaged = 0
    column_types: dict[str, Any] = {}
    declared_columns: dict[str, tuple[str, ...]] = {}
    for extractor in extractors:
        settings = extractor.settings(config)
        settings_json = settings.model_dump(mode="json")
        declared = extractor_features(extractor, settings)
        column_types.update(declared)
        declared_columns[extractor.name] = tuple(declared)
        types = part_features(declared)
        here = folder / extractor.name
        kept[extractor.name] = []
        if not extractor.runs_batched(settings):
            for session, _ in sessions:
                digest = json_digest([extractor.name, session.fingerprint_data(), settings_json], short=True)
                path = parts.session_part_path(here, session.session_id, digest)
                made = PartJob(extractor, settings, types, path, digest)
                kept[extractor.name].append(path)
                refs[session.session_id].append(_ref(extractor, made, folder, 0))
                per_session_parts += 1
                damaged += parts.discard_if_damaged(path, 1)
                if not made.part.exists():
                    todo[session.session_id].append(made)
            continue
        size = extractor.chunk_size(settings)
        for split in dict.fromkeys(split for _, split in sessions):
            members = [s for s, sp in sessions if sp == split]
            for index, first in enumerate(range(0, len(members), size)):
                batch = tuple(members[first : first + size])
                digest = json_digest([extractor.name, [s.fingerprint_data() for s in batch], settings_json], short=True)
                path = parts.chunk_part_path(here, split, index, digest)
                made = PartJob(extractor, settings, types, path, digest)
                kept[extractor.name].append(path)
                damaged += parts.discard_if_damaged(path, len(batch))
                chunks.append(Chunk(made, batch))
                for row, session in enumerate(batch):
                    refs[session.session_id].append(_ref(extractor, made, folder, row))
    tasks = [SessionTask(s, tuple(todo[s.session_id])) for s, _ in sessions if todo[s.session_id]]
    from datasets import Features

    return Plan(sessions, tasks, chunks, refs, declared_columns, kept, per_session_parts, Features(column_types), damaged)


def _ref(extractor: FeatureExtractor[Any], job: PartJob, folder: Path, row: int) -> PartRef:
    return PartRef(extractor.name, job.part.relative_to(folder).as_posix(), row, job.digest)


def _no_space(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is a full disk: ENOSPC, or EDQUOT (a quota)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def no_space_error(folder: Path, what: str) -> FeatureError:
    """The one-line error of a full disk: the folder, what was being written, and how to go on."""
    return FeatureError(
        f"{folder}: no space left on device while writing {what}; free some space and rerun "
        "(finished parts are kept, nothing half-written is)"
    )


def _run_sessions(tasks: list[SessionTask], executor: cf.Executor, folder: Path) -> Generator[SessionResult, None, None]:
    """Per-session tasks in order; a failure names its session (results arrive in task order)."""
    results = parallel_map(
        extract_session,
        tasks,
        executor=executor,
        describe=lambda task: f"session {task.session.session_id}",
    )
    with Progress(len(tasks), "features: per session", "session") as bar:
        for task in tasks:
            try:
                result = next(results)
            except WorkerLost as exc:
                raise FeatureError(str(exc)) from exc
            except Exception as exc:
                if _no_space(exc):
                    raise no_space_error(folder, f"the features of session {task.session.session_id}") from exc
                raise FeatureError(
                    f"session {task.session.session_id}: {type(exc).__name__}: {exc}"
                ) from exc
            bar.update(1)
            yield result


def _run_chunks(chunks: list[Chunk], folder: Path, stop: Callable[[], bool]) -> dict[str, float]:
    """Run batched extractors on the chunks that have no part yet; seconds per extractor and their stats.

    Ends early, before the next chunk, once `stop()` is true (the per-session work failed: waiting
    for every chunk would only delay its error).
    """
    seconds: dict[str, float] = {}
    todo = [chunk for chunk in chunks if not chunk.job.part.exists()]
    extractors = {chunk.job.extractor.name: chunk.job.extractor for chunk in todo}
    try:
        for chunk in track(todo, len(todo), "features: batched", "chunk"):
            if stop():
                break
            job = chunk.job
            started = time.perf_counter()
            values = job.extractor.extract_batch(list(chunk.sessions), job.settings)
            if len(values) != len(chunk.sessions):
                raise ExtractorError(
                    f"extractor {job.extractor.name!r} returned {len(values)} rows for {len(chunk.sessions)} sessions"
                )
            rows = []
            for session, value in zip(chunk.sessions, values, strict=True):
                columns, stats = _values(job.extractor, job.columns, value)
                rows.append({"session_id": session.session_id, **columns})
                for name, number in stats.items():
                    seconds[name] = seconds.get(name, 0.0) + number
            try:
                parts.write_part(rows_to_table(rows, job.features), job.part)
            except OSError as exc:
                if _no_space(exc):
                    raise no_space_error(folder, f"{job.extractor.name} part {job.part.name}") from exc
                raise
            key = f"{job.extractor.name}_s"
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
    finally:
        for extractor in extractors.values():
            extractor.close()
    return seconds


def _session_figures(
    tasks: list[SessionTask], executor: cf.Executor, folder: Path, stop: threading.Event
) -> tuple[dict[str, float], float]:
    """The helper thread's work: every per-session task, its figures summed, and the seconds it took.

    Stops reading results once `stop` is set (the stage is unwinding); the window then cancels
    what has not started.
    """
    started = time.perf_counter()
    figures: dict[str, float] = {}
    if not tasks:
        return figures, 0.0
    with closing(_run_sessions(tasks, executor, folder)) as results:
        for result in results:
            if stop.is_set():
                break
            for key, value in result.figures.items():
                figures[key] = figures.get(key, 0.0) + value
    return figures, time.perf_counter() - started


def _in_background(fn: Callable[..., R], *args: Any) -> Future[R]:
    """`fn(*args)` in a daemon thread: a process that is stopping (interrupted) never waits for it."""
    future: Future[R] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="features-per-session", daemon=True).start()
    return future


def _remove_stale(folder: Path, kept: dict[str, list[Path]]) -> int:
    """Delete temporaries, parts of an older plan and folders of extractors no longer selected."""
    removed = remove_stale_temporaries(folder)  # the index's, after a kill while writing it
    removed += sum(parts.remove_stale(folder / name, paths) for name, paths in kept.items())
    if folder.exists():
        for child in folder.iterdir():
            if child.is_dir() and child.name not in kept:
                removed += sum(1 for p in child.rglob("*") if p.is_file())
                shutil.rmtree(child)
    return removed


def run_features(config: FeatureSettings, paths: BuildPaths, *, executor: cf.Executor | None = None) -> StageOutcome:
    """Extract every assigned session's features into `features/`, resuming finished parts.

    `config` is the `PipelineConfig` or the build's slice of it (`features`, `gaps`).
    """
    plan = plan_parts(load_plan(paths), config, paths.features_dir, build_dir=paths.out)
    stale = _remove_stale(paths.features_dir, plan.kept)
    computed = sum(len(task.jobs) for task in plan.tasks)
    batch_computed = sum(1 for chunk in plan.chunks if not chunk.job.part.exists())
    stop = threading.Event()
    # The pool is held here, not in the helper thread, so that an interruption (raised in this
    # thread) stops it (`LocalPool.stop`); a local pool starts no process before its first task.
    with executor_or_pool(executor, config.features.workers) as pool:
        sessions = _in_background(_session_figures, plan.tasks, pool, paths.features_dir, stop)
        try:
            started = time.perf_counter()

            def failed() -> bool:
                return sessions.done() and sessions.exception() is not None

            chunk_figures = _run_chunks(plan.chunks, paths.features_dir, failed)
            batched_s = time.perf_counter() - started
            figures, per_session_s = result_of(sessions)  # a stop signal is raised while waiting
        finally:
            stop.set()
    figures.update(chunk_figures)

    names = list(config.features.extractors)
    try:
        write_index(
            paths,
            [IndexEntry(s.session_id, split, tuple(plan.refs[s.session_id])) for s, split in plan.sessions],
            {name: plan.columns[name] for name in names},
            plan.column_types,
        )
    except OSError as exc:
        if _no_space(exc):
            raise no_space_error(paths.features_dir, paths.features_index.name) from exc
        raise
    stats: dict[str, float | int | str] = {
        "sessions": len(plan.sessions),
        "session_parts_computed": computed,
        "session_parts_reused": plan.per_session_parts - computed,
        "batch_parts_computed": batch_computed,
        "batch_parts_reused": len(plan.chunks) - batch_computed,
        "stale_removed": stale,
        "damaged_parts_recomputed": plan.damaged,
        "per_session_wall_s": round(per_session_s, 3),
        "batched_wall_s": round(batched_s, 3),
        **{k: round(v, 3) for k, v in sorted(figures.items())},
    }
    message = (
        f"features: {len(plan.sessions)} sessions, extractors {', '.join(names)} "
        f"({computed + batch_computed} parts computed, "
        f"{plan.per_session_parts - computed + len(plan.chunks) - batch_computed} reused)"
    )
    return StageOutcome(True, message, (paths.features_dir,), stats)
