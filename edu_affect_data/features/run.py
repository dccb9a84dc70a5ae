"""Stage `features`: audio + video per session in parallel, text in batches, committed as parts.

Media extraction is embarrassingly parallel and heavy, so each session is one task on a
`concurrent.futures.Executor` (a process pool by default; a Dask `Client.get_executor()` works the
same), and the worker writes its own part so no frames travel back through pickling. At most a
few tasks are in flight, which keeps memory flat whatever the corpus size. Text embeddings run in
the parent, in fixed chunks of sorted session ids, so a resumed run batches exactly like an
uninterrupted one and produces the same floats.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from edu_affect_data.artifacts import BuildPaths
from edu_affect_data.config import FeaturesConfig, GapsConfig, PipelineConfig
from edu_affect_data.features import parts
from edu_affect_data.features.schema import (
    METADATA_COLUMNS,
    media_part_features,
    rows_to_table,
    text_part_features,
)
from edu_affect_data.splits import split_of_sessions
from edu_affect_data.stage import StageOutcome

SESSION_COLUMNS = (
    "session_id",
    "corpus",
    "source_id",
    "start_s",
    "end_s",
    "audio_path",
    "video_path",
    "video_region",
    "text",
    "words",
    "status",
)
#: Tasks kept in flight per worker: enough to hide scheduling latency, few enough for flat memory.
IN_FLIGHT_PER_WORKER = 2


class FeatureError(RuntimeError):
    """Extraction failed for a session; the message names it. Finished parts are kept."""


@dataclass(frozen=True)
class MediaJob:
    """Everything a worker needs for one session (picklable, no shared state)."""

    session: dict[str, Any]
    features: FeaturesConfig
    gaps: GapsConfig
    part: Path


@dataclass(frozen=True)
class TextChunk:
    """A fixed batch of one split's sessions for the text model, and the part it is written to."""

    split: str
    part: Path
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class MediaResult:
    session_id: str
    frames: int
    face_fallbacks: int
    audio_s: float
    video_s: float


def feature_dirs(paths: BuildPaths) -> tuple[Path, Path]:
    """(media parts, text parts) folders under `features/`."""
    return paths.features_dir / "media", paths.features_dir / "text"


def load_plan(paths: BuildPaths) -> pd.DataFrame:
    """Assigned sessions (train/validation/test) with their manifest row and label, in dataset order."""
    for needed in (paths.assignment, paths.sessions, paths.labels):
        if not needed.exists():
            raise FeatureError(f"{needed}: missing (run the previous stages first)")
    assignment = split_of_sessions(pq.read_table(paths.assignment).to_pandas())
    sessions = pq.read_table(paths.sessions, columns=list(SESSION_COLUMNS)).to_pandas()
    labels = pq.read_table(paths.labels, columns=["session_id", "method", "votes"]).to_pandas()
    plan = assignment.merge(sessions, on="session_id", how="left").merge(
        labels, on="session_id", how="left"
    )
    missing = plan.loc[plan["status"].isna() | plan["method"].isna()]
    if len(missing):
        raise FeatureError(
            f"{paths.assignment}: session {missing.iloc[0].session_id} is not in the manifest or the labels"
        )
    not_kept = plan.loc[plan["status"] != "kept"]
    if len(not_kept):
        raise FeatureError(
            f"{paths.assignment}: session {not_kept.iloc[0].session_id} has status {not_kept.iloc[0].status!r}"
        )
    return plan.rename(columns={"method": "label_method"})


def _session_record(row: pd.Series) -> dict[str, Any]:
    words = [
        {"text": w["text"], "start_s": float(w["start_s"]), "end_s": float(w["end_s"])}
        for w in (row["words"] if row["words"] is not None else [])
    ]
    record = {
        c: row[c]
        for c in (
            "session_id",
            "corpus",
            "speaker_id",
            "source_id",
            "label_method",
            "label",
            "audio_path",
            "video_path",
            "video_region",
            "split",
        )
    }
    record.update(
        start_s=float(row["start_s"]),
        end_s=float(row["end_s"]),
        votes=[str(v) for v in row["votes"]],
        text=str(row["text"] or ""),
        words=words,
    )
    return record


def extract_media(job: MediaJob) -> MediaResult:
    """Worker task: MFCC + frames of one session, written as its part. Top-level so it pickles."""
    from edu_affect_data.features.audio import session_mfcc
    from edu_affect_data.features.video import extract_frames

    session = job.session
    started = time.perf_counter()
    mfcc = session_mfcc(
        Path(session["audio_path"]), session["start_s"], session["end_s"], job.features.audio
    )
    audio_done = time.perf_counter()
    frames = extract_frames(
        Path(session["video_path"]),
        session["video_region"],
        session["start_s"],
        session["end_s"],
        job.features.video,
        job.gaps,
    )
    video_done = time.perf_counter()
    row = {name: session[name] for name in METADATA_COLUMNS}
    row.update(
        mfcc=mfcc, frames=frames.jpegs, frame_times=frames.times, frame_available=frames.available
    )
    parts.write_part(rows_to_table([row], media_part_features(job.features)), job.part)
    return MediaResult(
        session["session_id"],
        len(frames.jpegs),
        frames.face_fallbacks,
        audio_done - started,
        video_done - audio_done,
    )


def media_jobs(plan: pd.DataFrame, config: PipelineConfig, folder: Path) -> list[MediaJob]:
    """One job per session; its part name hashes the session row and the media config."""
    jobs = []
    media_config = (
        config.features.audio.model_dump(mode="json"),
        config.features.video.model_dump(mode="json"),
        config.gaps.model_dump(mode="json"),
    )
    for _, row in plan.iterrows():
        record = _session_record(row)
        digest = parts.fingerprint(record, media_config)
        jobs.append(
            MediaJob(
                record,
                config.features,
                config.gaps,
                parts.media_part_path(folder, record["session_id"], digest),
            )
        )
    return jobs


def text_chunks(plan: pd.DataFrame, config: PipelineConfig, folder: Path) -> list[TextChunk]:
    """Fixed chunks of `text.batch_size` sessions per split, sorted by id: the same batches on every run."""
    chunks = []
    size = config.features.text.batch_size
    for split, rows in plan.groupby("split", sort=False):
        records = [_session_record(row) for _, row in rows.sort_values("session_id").iterrows()]
        for index, first in enumerate(range(0, len(records), size)):
            chunk = records[first : first + size]
            digest = parts.fingerprint(
                [(r["session_id"], r["text"], r["words"], r["start_s"]) for r in chunk],
                config.features.text.model_dump(mode="json"),
            )
            part = parts.text_part_path(folder, str(split), index, digest)
            chunks.append(TextChunk(str(split), part, chunk))
    return chunks


def default_executor(config: FeaturesConfig) -> cf.Executor:
    """A process pool from a fork server: workers start clean even when the parent holds torch threads."""
    workers = config.workers or os.cpu_count() or 1
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("forkserver")
    )


def _run_media(jobs: list[MediaJob], executor: cf.Executor, workers: int) -> Iterator[MediaResult]:
    """Submit with bounded look-ahead; yield results as they finish; fail naming the session."""
    from tqdm import tqdm

    pending = iter(jobs)
    running: dict[cf.Future[MediaResult], str] = {}
    limit = max(1, workers * IN_FLIGHT_PER_WORKER)
    with tqdm(
        total=len(jobs), desc="features: audio+video", unit="session", mininterval=1.0
    ) as bar:
        while True:
            while len(running) < limit and (job := next(pending, None)) is not None:
                running[executor.submit(extract_media, job)] = job.session["session_id"]
            if not running:
                return
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for future in done:
                session_id = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:
                    for other in running:
                        other.cancel()
                    raise FeatureError(
                        f"session {session_id}: {type(exc).__name__}: {exc}"
                    ) from exc
                bar.update(1)
                yield result


def _run_text(chunks: list[TextChunk], config: PipelineConfig) -> int:
    """Encode the chunks that have no part yet; returns how many were encoded."""
    from tqdm import tqdm

    from edu_affect_data.features.text import TextEncoder, transcript_from_row

    todo = [chunk for chunk in chunks if not chunk.part.exists()]
    if not todo:
        return 0
    encoder = TextEncoder(config.features.text)
    text_features = text_part_features(config.features, encoder.hidden_size)
    for chunk in tqdm(todo, desc="features: text", unit="batch", mininterval=1.0):
        encoded = encoder.encode([transcript_from_row(record) for record in chunk.records])
        rows = [
            {"session_id": record["session_id"], **vars(features)}
            for record, features in zip(chunk.records, encoded, strict=True)
        ]
        parts.write_part(rows_to_table(rows, text_features), chunk.part)
    return len(todo)


def run_features(
    config: PipelineConfig, paths: BuildPaths, *, executor: cf.Executor | None = None
) -> StageOutcome:
    """Extract every assigned session's features into `features/`, resuming finished parts."""
    plan = load_plan(paths)
    media_dir, text_dir = feature_dirs(paths)
    jobs = media_jobs(plan, config, media_dir)
    chunks = text_chunks(plan, config, text_dir)
    stale = parts.remove_stale(media_dir, [j.part for j in jobs]) + parts.remove_stale(
        text_dir, [c.part for c in chunks]
    )
    todo = [job for job in jobs if not job.part.exists()]
    started = time.perf_counter()
    totals = {"frames": 0, "face_fallbacks": 0, "audio_s": 0.0, "video_s": 0.0}
    if todo:
        own = executor is None
        pool = default_executor(config.features) if own else executor
        assert pool is not None
        workers = config.features.workers or os.cpu_count() or 1
        try:
            for result in _run_media(todo, pool, workers):
                totals["frames"] += result.frames
                totals["face_fallbacks"] += result.face_fallbacks
                totals["audio_s"] += result.audio_s
                totals["video_s"] += result.video_s
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
    media_s = time.perf_counter() - started
    text_started = time.perf_counter()
    text_encoded = _run_text(chunks, config)
    stats: dict[str, float | int | str] = {
        "sessions": len(jobs),
        "media_computed": len(todo),
        "media_reused": len(jobs) - len(todo),
        "text_chunks": len(chunks),
        "text_chunks_computed": text_encoded,
        "stale_removed": stale,
        "media_wall_s": round(media_s, 3),
        "text_wall_s": round(time.perf_counter() - text_started, 3),
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in totals.items()},
    }
    message = (
        f"features: {len(jobs)} sessions ({len(todo)} computed, {len(jobs) - len(todo)} reused)"
    )
    if totals["face_fallbacks"]:
        message += f"; face crop fell back to the full region on {totals['face_fallbacks']} frames"
    return StageOutcome(True, message, (paths.features_dir,), stats)
