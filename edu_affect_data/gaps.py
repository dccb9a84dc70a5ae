"""The gap filter: decide per candidate session whether it is `kept`, `gap`, `short` or `error`.

Media are decoded once per recording (in parallel over an executor), text coverage (the transcript,
modality `text` as everywhere else) comes from the reader's word intervals of every speaker, and
each session is then judged by interval queries on those timelines. docs/contracts.md defines a gap; this module implements exactly that:
a session is `gap` when some modality has no usable signal for more than `gaps.threshold_s`
inside its window, and `error` when a file it depends on is broken or a reader problem hits
its recording or one of its units (`error` wins over `gap`, `gap` over `short`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from edu_affect_data.config import GapsConfig
from edu_affect_data.corpora.records import CorpusManifest, Problem, Recording, Utterance
from edu_affect_data.media_timelines import (
    BrokenMediaError,
    Gap,
    Timeline,
    VideoThresholds,
    audio_timeline,
    video_timelines,
)
from edu_affect_data.parallel import default_workers, parallel_map
from edu_affect_data.sessions import CandidateSession
from edu_affect_data.vocabulary import SESSION_STATUSES

#: Every status a manifest row can have, in order of precedence (error > gap > short > kept).
STATUSES: tuple[str, ...] = SESSION_STATUSES[::-1]


@dataclass(frozen=True)
class MediaJob:
    """What a worker needs to measure one recording's media (picklable, no manifest)."""

    recording_id: str
    audio_path: Path | None
    video_path: Path | None
    regions: tuple[str, ...]
    silence_dbfs: float
    video: VideoThresholds


@dataclass(frozen=True)
class MediaTimelines:
    recording_id: str
    audio: Timeline | None
    video: dict[str, Timeline]
    #: (short cause, message naming the file) per broken file.
    errors: tuple[tuple[str, str], ...] = ()
    #: The same broken files as `Problem`s for `problems.csv` (a missing path is the reader's).
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class SessionVerdict:
    status: str
    #: Readable, names files and times; empty when kept.
    reason: str
    gaps: dict[str, Gap | None] = field(default_factory=dict)
    #: Short, countable labels of why (e.g. "truncated wav", "video gap (black)") for the report.
    causes: tuple[str, ...] = ()


def measure_media(job: MediaJob) -> MediaTimelines:
    """Audio and per-region video timelines of one recording; broken files become `errors`."""
    errors: list[tuple[str, str]] = []
    problems: list[Problem] = []
    audio: Timeline | None = None
    video: dict[str, Timeline] = {}
    if job.audio_path is None:
        errors.append(("missing audio", f"recording {job.recording_id} has no audio file"))
    else:
        try:
            audio = audio_timeline(job.audio_path, job.silence_dbfs)
        except BrokenMediaError as exc:
            errors.append((exc.kind, str(exc)))
            problems.append(_media_problem(exc, job.recording_id))
    if job.video_path is None:
        errors.append(("missing video", f"recording {job.recording_id} has no video file"))
    else:
        try:
            video = video_timelines(job.video_path, job.regions, job.video)
        except BrokenMediaError as exc:
            errors.append((exc.kind, str(exc)))
            problems.append(_media_problem(exc, job.recording_id))
    return MediaTimelines(job.recording_id, audio, video, tuple(errors), tuple(problems))


def _media_problem(exc: BrokenMediaError, recording_id: str) -> Problem:
    return Problem(str(exc.path), None, f"{exc.kind}: {exc.detail}", recording_id)


def text_timeline(units: Sequence[Utterance]) -> Timeline:
    """Stretches of a recording whose transcript has no word of any speaker (modality `text`).

    Unaligned utterances (`word_timing="utterance"`) count as covered over their whole span.
    """
    spans: list[tuple[float, float]] = []
    for unit in units:
        if unit.word_timing == "aligned":
            spans.extend((w.start_s, w.end_s) for w in unit.words)
        else:
            spans.append((unit.start_s, unit.end_s))
    end = max((u.end_s for u in units), default=0.0)
    holes: list[Gap] = []
    covered_until = 0.0
    for start, stop in sorted(spans):
        if start > covered_until:
            holes.append(Gap(covered_until, start, "untranscribed"))
        covered_until = max(covered_until, stop)
    if end > covered_until:
        holes.append(Gap(covered_until, end, "untranscribed"))
    return Timeline(tuple(holes), end_s=float("inf"))


def assess_sessions(
    sessions: Sequence[CandidateSession],
    manifest: CorpusManifest,
    cfg: GapsConfig,
    *,
    min_s: float,
    executor: Executor | None = None,
    media_problems: list[Problem] | None = None,
) -> list[SessionVerdict]:
    """One verdict per session (same order), decoding each recording's media once.

    Broken media files are found here, not by the readers; `media_problems`, when given, receives
    one `Problem` per such file so `problems.csv` lists them beside the reader's.
    """
    by_recording: dict[str, list[CandidateSession]] = defaultdict(list)
    for session in sessions:
        by_recording[session.source_id].append(session)
    jobs = [_media_job(manifest.recordings[rid], group, cfg) for rid, group in by_recording.items()]
    media = {m.recording_id: m for m in _run(jobs, executor)}
    if media_problems is not None:
        media_problems.extend(p for m in media.values() for p in m.problems)
    units_by_recording: dict[str, list[Utterance]] = defaultdict(list)
    for unit in manifest.utterances:
        units_by_recording[unit.recording_id].append(unit)
    texts = {rid: text_timeline(units_by_recording[rid]) for rid in by_recording}
    recording_problems, unit_problems = _index_problems(manifest.problems)
    verdicts = []
    for session in sessions:
        problems = list(recording_problems.get(session.source_id, []))
        for unit_id in session.utterance_ids:
            problems.extend(unit_problems.get(unit_id, []))
        verdicts.append(
            _judge(session, media[session.source_id], texts[session.source_id], problems, cfg, min_s)
        )
    return verdicts


def _media_job(recording: Recording, sessions: list[CandidateSession], cfg: GapsConfig) -> MediaJob:
    return MediaJob(
        recording_id=recording.recording_id,
        audio_path=recording.audio_path,
        video_path=recording.video_path,
        regions=tuple(sorted({s.video_region for s in sessions})),
        silence_dbfs=cfg.audio_silence_dbfs,
        video=VideoThresholds(cfg.video_black_luma, cfg.video_frozen_mad, cfg.face_check),
    )


def _run(jobs: list[MediaJob], executor: Executor | None) -> list[MediaTimelines]:
    """Every recording's timelines, in job order, on `executor` (else a local pool)."""
    if not jobs:
        return []
    workers = None if executor is not None else min(len(jobs), default_workers())
    return list(
        parallel_map(
            measure_media,
            jobs,
            executor=executor,
            workers=workers,
            describe=lambda job: f"media of recording {job.recording_id}",
        )
    )


def _index_problems(
    problems: Sequence[Problem],
) -> tuple[dict[str, list[Problem]], dict[str, list[Problem]]]:
    by_recording: dict[str, list[Problem]] = defaultdict(list)
    by_unit: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        if problem.utterance_id is not None:
            by_unit[problem.utterance_id].append(problem)
        elif problem.recording_id is not None:
            by_recording[problem.recording_id].append(problem)
    return by_recording, by_unit


def _judge(
    session: CandidateSession,
    media: MediaTimelines,
    text: Timeline,
    problems: list[Problem],
    cfg: GapsConfig,
    min_s: float,
) -> SessionVerdict:
    start, end = session.start_s, session.end_s
    video = media.video.get(session.video_region)
    gaps: dict[str, Gap | None] = {
        "audio": media.audio.longest_gap(start, end) if media.audio is not None else None,
        "video": video.longest_gap(start, end) if video is not None else None,
        "text": text.longest_gap(start, end),
    }
    errors = [(cause, f"error: {message}") for cause, message in media.errors]
    errors += [(f"reader: {p.reason.split(':')[0][:60]}", f"error: {p}") for p in problems]
    too_long = [
        _describe(modality, gap)
        for modality, gap in gaps.items()
        if gap is not None and gap.duration_s > cfg.threshold_s
    ]
    if errors:
        found = errors + too_long
        return SessionVerdict("error", "; ".join(m for _, m in found), gaps, tuple(c for c, _ in found))
    if too_long:
        return SessionVerdict("gap", "; ".join(m for _, m in too_long), gaps, tuple(c for c, _ in too_long))
    if session.too_short:
        reason = f"too short: {session.duration_s:.2f} s < sessions.min_s {min_s:.2f} s"
        return SessionVerdict("short", reason, gaps, ("too short",))
    return SessionVerdict("kept", "", gaps)


def _describe(modality: str, gap: Gap) -> tuple[str, str]:
    """(cause, readable reason) of a gap over the threshold."""
    shown_kind = modality == "video" or gap.kind == "missing"
    kind = f" ({gap.kind})" if shown_kind else ""
    where = f"at {gap.start_s:.2f}-{gap.end_s:.2f}"
    return f"{modality} gap{kind}", f"{modality} gap {gap.duration_s:.2f} s{kind} {where}"
