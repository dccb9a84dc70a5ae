"""The gap filter: decide per candidate session whether it is `kept`, `gap`, `short` or `error`.

Media are measured once per recording, in one pool over the corpora given (the ingest gives one at
a time, to hold one corpus's units at once): the audio in 10 ms frames
and the video by the one decoding pass (`video_pass.py`: long recordings in chunks, longest first,
stitched exactly), which also leaves the region proxies the clips and features are cut from.
Text coverage (the transcript, modality `text` as everywhere else) comes from the reader's word
intervals of every speaker, and each session is then judged by interval queries on those
timelines. docs/contracts.md defines a gap; this module implements exactly that: a session is
`gap` when some modality has no usable signal for more than `gaps.threshold_s` inside its window,
and `error` when a file it depends on is broken or a reader problem hits its recording or one of
its units (`error` wins over `gap`, `gap` over `short`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edu_affect_data.core.fingerprint import json_digest
from edu_affect_data.core.parallel import default_workers, parallel_map
from edu_affect_data.core.progress import track
from edu_affect_data.core.vocabulary import SESSION_STATUSES
from edu_affect_data.corpora.records import CorpusManifest, Problem, Recording, Utterance
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.store import (
    chunk_digest,
    chunk_paths,
    frames_path,
    load_chunk,
    read_all_frames,
    save_chunk,
    write_frames,
)
from edu_affect_data.media.timelines import (
    BrokenMediaError,
    Gap,
    Timeline,
    VideoThresholds,
    audio_timeline,
    video_timelines_of,
)
from edu_affect_data.media.video_pass import (
    ChunkFrames,
    ChunkJob,
    ProxySpec,
    plan_chunks,
    scan_chunk,
    stitch,
)
from edu_affect_data.stages.candidates import CandidateSession

#: Every status a manifest row can have, in order of precedence (error > gap > short > kept).
STATUSES: tuple[str, ...] = SESSION_STATUSES[::-1]


@dataclass(frozen=True)
class SessionMedia:
    """Where a session's pixels are after the ingest: its region's proxy and the frame classification."""

    proxy_path: Path
    #: Recording time of the proxy's first frame (the proxy's own clock starts at 0 there).
    proxy_start_s: float
    frames_path: Path


@dataclass(frozen=True)
class MediaTask:
    """One unit of pool work (picklable): a recording's audio, one chunk of its video, or both."""

    recording_id: str
    #: Set on one task per recording (its first): the audio is measured once.
    audio_path: Path | None
    measure_audio: bool
    silence_dbfs: float
    chunk: ChunkJob | None
    #: The chunk's results file (`media.store`), None when nothing is kept on disk.
    results_path: Path | None = None
    #: Seconds of video the task decodes: the pool runs the longest first.
    weight: float = 0.0


@dataclass(frozen=True)
class TaskResult:
    recording_id: str
    audio: Timeline | None
    chunk: ChunkFrames | None
    errors: tuple[tuple[str, str], ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class MediaTimelines:
    recording_id: str
    audio: Timeline | None
    video: dict[str, Timeline]
    #: (short cause, message naming the file) per broken file.
    errors: tuple[tuple[str, str], ...] = ()
    #: The same broken files as `Problem`s for `problems.csv` (a missing path is the reader's).
    problems: tuple[Problem, ...] = ()
    #: Per region, (chunk start, chunk end or None, proxy, first frame's time) of each chunk.
    proxies: dict[str, list[tuple[float, float | None, Path, float]]] = field(default_factory=dict)
    frames_path: Path | None = None

    def session_media(self, session: CandidateSession) -> SessionMedia | None:
        """The proxy chunk holding the session's window (chunks are cut between windows)."""
        if self.frames_path is None:
            return None
        for start, end, path, first in self.proxies.get(session.video_region, []):
            if start <= session.start_s + 1e-9 and (end is None or session.end_s <= end + 1e-9):
                return SessionMedia(path, first, self.frames_path)
        return None


@dataclass(frozen=True)
class SessionVerdict:
    status: str
    #: Readable, names files and times; empty when kept.
    reason: str
    gaps: dict[str, Gap | None] = field(default_factory=dict)
    #: Short, countable labels of why (e.g. "truncated wav", "video gap (black)") for the report.
    causes: tuple[str, ...] = ()
    #: The session's proxy and frame classification, when the pass left them (`media_dir`).
    media: SessionMedia | None = None


def measure_task(task: MediaTask) -> TaskResult:
    """The task's audio timeline and/or video chunk (from its results file when a run already made it)."""
    errors: list[tuple[str, str]] = []
    problems: list[Problem] = []
    audio = None
    if task.measure_audio:
        if task.audio_path is None:
            errors.append(("missing audio", f"recording {task.recording_id} has no audio file"))
        else:
            try:
                audio = audio_timeline(task.audio_path, task.silence_dbfs)
            except BrokenMediaError as exc:
                errors.append((exc.kind, str(exc)))
                problems.append(_media_problem(exc, task.recording_id))
    chunk = None
    if task.chunk is not None:
        try:
            chunk = _chunk(task)
        except BrokenMediaError as exc:
            errors.append((exc.kind, str(exc)))
            problems.append(_media_problem(exc, task.recording_id))
    return TaskResult(task.recording_id, audio, chunk, tuple(errors), tuple(problems))


def _chunk(task: MediaTask) -> ChunkFrames:
    assert task.chunk is not None
    if task.results_path is None:
        return scan_chunk(task.chunk)
    done = load_chunk(task.results_path, task.chunk, {r: Path(p) for r, p in task.chunk.proxy_paths})
    if done is not None:
        return done
    chunk = scan_chunk(task.chunk)
    save_chunk(task.results_path, chunk)
    return chunk


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
    media: MediaConfig | None = None,
    media_dir: Path | None = None,
) -> list[SessionVerdict]:
    """One verdict per session of one corpus (same order); see `assess_corpora`."""
    return assess_corpora(
        [(sessions, manifest)], cfg, min_s=min_s, executor=executor, media_problems=media_problems, media=media, media_dir=media_dir
    )[0]


def assess_corpora(
    groups: Sequence[tuple[Sequence[CandidateSession], CorpusManifest]],
    cfg: GapsConfig,
    *,
    min_s: float,
    executor: Executor | None = None,
    media_problems: list[Problem] | None = None,
    media: MediaConfig | None = None,
    media_dir: Path | None = None,
    media_files: list[Path] | None = None,
) -> list[list[SessionVerdict]]:
    """Verdicts per corpus, decoding each recording's media once, the corpora given in one pool.

    The recordings of all corpora are cut into chunks (`video_pass.plan_chunks`) and run longest
    first, so the pool stays full to the end instead of idling behind one long video. With
    `media_dir` the pass also leaves the proxies and frame classifications there (`media.store`)
    and each verdict says where its session's are; `media_files` then receives every file kept.
    Broken media files are found here, not by the readers; `media_problems`, when given, receives
    one `Problem` per such file so `problems.csv` lists them beside the reader's.
    """
    media = media or MediaConfig()
    plans: dict[tuple[str, str], tuple[Recording, list[MediaTask]]] = {}
    for sessions, manifest in groups:
        by_recording: dict[str, list[CandidateSession]] = defaultdict(list)
        for session in sessions:
            by_recording[session.source_id].append(session)
        for rid, group in by_recording.items():
            recording = manifest.recordings[rid]
            plans[(manifest.corpus, rid)] = (recording, _tasks(recording, group, cfg, media, media_dir))
    measured = _measure(plans, executor, media_dir, media_files)
    if media_problems is not None:
        media_problems.extend(p for m in measured.values() for p in m.problems)
    verdicts = []
    for sessions, manifest in groups:
        units_by_recording: dict[str, list[Utterance]] = defaultdict(list)
        for unit in manifest.utterances:
            units_by_recording[unit.recording_id].append(unit)
        texts = {s.source_id: text_timeline(units_by_recording[s.source_id]) for s in sessions}
        corpus_verdicts = []
        for session, problems in zip(sessions, session_problems(sessions, manifest), strict=True):
            media_of = measured[(manifest.corpus, session.source_id)]
            verdict = _judge(session, media_of, texts[session.source_id], problems, cfg, min_s)
            corpus_verdicts.append(replace(verdict, media=media_of.session_media(session)))
        verdicts.append(corpus_verdicts)
    return verdicts


def _tasks(
    recording: Recording, sessions: list[CandidateSession], cfg: GapsConfig, media: MediaConfig, media_dir: Path | None
) -> list[MediaTask]:
    """The recording's chunks as pool tasks; the first also measures the audio."""
    audio = {"audio_path": recording.audio_path, "silence_dbfs": cfg.audio_silence_dbfs}
    if recording.video_path is None:
        return [MediaTask(recording.recording_id, measure_audio=True, chunk=None, **audio)]  # type: ignore[arg-type]
    duration = max(s.end_s for s in sessions)
    spans = plan_chunks(duration, [(s.start_s, s.end_s) for s in sessions], media.chunk_s)
    regions = tuple(sorted({s.video_region for s in sessions}))
    proxy = ProxySpec(media.proxy_height, media.proxy_crf) if media_dir is not None else None
    tasks = []
    for index, (start, end) in enumerate(spans):
        prime = max(0.0, start - media.prime_s) if index else 0.0
        job = ChunkJob(
            recording.recording_id, Path(recording.video_path), regions, index, start, end, prime,
            VideoThresholds.from_config(cfg), proxy,
        )  # fmt: skip
        results_path = None
        if media_dir is not None:
            results_path, proxies = chunk_paths(media_dir, job, chunk_digest(job))
            job = replace(job, proxy_paths=tuple((r, str(p)) for r, p in proxies.items()))
        weight = (end if end is not None else duration) - prime
        tasks.append(MediaTask(recording.recording_id, measure_audio=index == 0, chunk=job, results_path=results_path, weight=weight, **audio))  # type: ignore[arg-type]
    return tasks


def _measure(
    plans: dict[tuple[str, str], tuple[Recording, list[MediaTask]]],
    executor: Executor | None,
    media_dir: Path | None,
    media_files: list[Path] | None,
) -> dict[tuple[str, str], MediaTimelines]:
    """Every recording's timelines (in `plans` order), its tasks run longest first on `executor` (else a local pool).

    A recording is assembled as soon as its last task is in and its tasks' results (every decoded
    frame's timestamp and kind, per region) are dropped then: holding every recording's results
    until the pass ended made the parent's memory grow with the corpus (issue 24, item 6); what
    stays is the timelines, a few gaps per recording.
    """
    keyed = [(key, task) for key, (_, tasks) in plans.items() for task in tasks]
    ordered = sorted(keyed, key=lambda pair: -pair[1].weight)
    workers = None if executor is not None else min(len(ordered), default_workers())
    results = parallel_map(
        measure_task,
        [task for _, task in ordered],
        executor=executor,
        workers=workers,
        describe=lambda task: f"media of recording {task.recording_id}",
    ) if ordered else iter(())  # fmt: skip
    counted = track(results, len(ordered), "ingest: media pass (audio levels, video frames, proxies)", "task")
    waiting: dict[tuple[str, str], dict[int, TaskResult]] = defaultdict(dict)
    assembled: dict[tuple[str, str], MediaTimelines] = {}
    for (key, task), result in zip(ordered, counted, strict=True):
        got = waiting[key]
        got[id(task)] = result
        recording, tasks = plans[key]
        if len(got) == len(tasks):  # (media_files: a set of files to keep, in any order)
            del waiting[key]
            assembled[key] = _assemble(recording, tasks, [got[id(t)] for t in tasks], media_dir, media_files)
    return {key: assembled[key] for key in plans}  # plans order: problems.csv lists them in it


def _assemble(
    recording: Recording,
    tasks: list[MediaTask],
    results: list[TaskResult],
    media_dir: Path | None,
    media_files: list[Path] | None,
) -> MediaTimelines:
    """A recording's timelines from its tasks: audio, chunks stitched exactly, proxies located."""
    errors: dict[str, str] = {}
    problems: dict[str, Problem] = {}
    for result in results:
        errors.update((message, cause) for cause, message in result.errors)
        problems.update((str(p), p) for p in result.problems)
    audio = next((r.audio for t, r in zip(tasks, results, strict=True) if t.measure_audio), None)
    if recording.video_path is None:
        errors[f"recording {recording.recording_id} has no video file"] = "missing video"
    video: dict[str, Timeline] = {}
    proxies: dict[str, list[tuple[float, float | None, Path, float]]] = {}
    frames_file = None
    chunks = [r.chunk for r in results if r.chunk is not None]
    jobs = {t.chunk.index: t.chunk for t in tasks if t.chunk is not None}
    if chunks and len(chunks) == len(jobs):
        # Named by its chunks' result files relative to the media folder (each named by its inputs'
        # hash): the same name wherever the build folder is, so a moved build reuses it.
        names = [t.results_path.relative_to(media_dir).as_posix() for t in tasks if t.results_path is not None and media_dir]
        digest = json_digest(names, short=True)
        stitched = read_all_frames(frames_path(media_dir, recording.recording_id, digest)) if media_dir else None
        if stitched is None:  # not stitched by an earlier run yet

            def reclassify(chunk: ChunkFrames, prime: float) -> ChunkFrames:
                return scan_chunk(replace(jobs[chunk.index], prime_s=prime, proxy=None, proxy_paths=()))

            frames = stitch(chunks, reclassify)
            stitched = frames.pts, frames.kinds
        ordered = sorted(chunks, key=lambda c: c.index)
        try:
            assert recording.video_path is not None  # `jobs` is empty without a video
            video = video_timelines_of(Path(recording.video_path), stitched[0], stitched[1], ordered[0].fps, ordered[0].declared_frames)
        except BrokenMediaError as exc:
            errors[str(exc)] = exc.kind
            problems[str(exc)] = _media_problem(exc, recording.recording_id)
        if media_dir is not None and video:
            pts, kinds = stitched
            owner = np.zeros(len(pts), np.int32)
            for chunk in ordered[1:]:
                owner[pts >= chunk.start_s - 1e-9] = chunk.index
            frames_file = write_frames(media_dir, recording.recording_id, pts, owner, kinds, digest)
            for chunk in ordered:
                job = jobs[chunk.index]
                for region, path in chunk.proxies.items():
                    proxies.setdefault(region, []).append((job.start_s, job.end_s, path, chunk.proxy_start_s))
            if media_files is not None:
                media_files.append(frames_file)
                media_files.extend(Path(t.results_path) for t in tasks if t.results_path is not None)
                media_files.extend(p for c in ordered for p in c.proxies.values())
    return MediaTimelines(
        recording.recording_id,
        audio,
        video,
        tuple((cause, message) for message, cause in errors.items()),
        tuple(problems.values()),
        proxies,
        frames_file,
    )


def session_problems(sessions: Sequence[CandidateSession], manifest: CorpusManifest) -> list[list[Problem]]:
    """The reader problems that make each session an `error`, in `sessions` order.

    A recording-level problem hits every session of the recording. A problem of one unit hits the
    session holding that unit; a unit no session holds (an unlabelled IEMOCAP `X` fragment) is
    still inside the windows around it, so it hits every session whose window overlaps it; and a
    unit the reader did not return at all (a damaged label block of an untranscribed id) cannot be
    placed, so it hits the whole recording. Only a corpus-level problem (a file of no recording) and
    a damaged unit outside every window leave the sessions as they are; both stay in problems.csv.
    """
    units = {u.utterance_id: u for u in manifest.utterances}
    holder: dict[str, list[int]] = defaultdict(list)
    for index, session in enumerate(sessions):
        for unit_id in session.utterance_ids:
            holder[unit_id].append(index)
    hit: list[list[Problem]] = [[] for _ in sessions]
    for problem in manifest.problems:
        if problem.utterance_id in holder:
            targets = holder[problem.utterance_id]
        elif problem.utterance_id in units:
            unit = units[problem.utterance_id]
            targets = [
                i for i, s in enumerate(sessions)
                if s.source_id == unit.recording_id and s.start_s < unit.end_s and unit.start_s < s.end_s
            ]  # fmt: skip
        elif problem.recording_id is not None:
            targets = [i for i, s in enumerate(sessions) if s.source_id == problem.recording_id]
        else:
            targets = []  # a corpus-level problem (a file of no recording): listed in problems.csv only
        for index in targets:
            hit[index].append(problem)
    return hit


def status_of(errors: bool, longest_gaps_s: Iterable[float | None], threshold_s: float, too_short: bool) -> str:
    """A session's status from what its verdict rests on: error > gap > short > kept.

    `longest_gaps_s`: the longest gap of each modality in the window (None: not measured). The one
    rule: the gap filter applies it, and `build --dry-run` applies it to the manifest's recorded
    gaps to say which sessions a new `gaps.threshold_s` keeps.
    """
    if errors:
        return "error"
    if any(gap is not None and gap > threshold_s for gap in longest_gaps_s):
        return "gap"
    return "short" if too_short else "kept"


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
    durations = [gap.duration_s if gap is not None else None for gap in gaps.values()]
    status = status_of(bool(errors), durations, cfg.threshold_s, session.too_short)
    if status == "error":
        found = errors + too_long
        return SessionVerdict("error", "; ".join(m for _, m in found), gaps, tuple(c for c, _ in found))
    if status == "gap":
        return SessionVerdict("gap", "; ".join(m for _, m in too_long), gaps, tuple(c for c, _ in too_long))
    if status == "short":
        reason = f"too short: {session.duration_s:.2f} s < sessions.min_s {min_s:.2f} s"
        return SessionVerdict("short", reason, gaps, ("too short",))
    return SessionVerdict("kept", "", gaps)


def _describe(modality: str, gap: Gap) -> tuple[str, str]:
    """(cause, readable reason) of a gap over the threshold."""
    shown_kind = modality == "video" or gap.kind == "missing"
    kind = f" ({gap.kind})" if shown_kind else ""
    where = f"at {gap.start_s:.2f}-{gap.end_s:.2f}"
    return f"{modality} gap{kind}", f"{modality} gap {gap.duration_s:.2f} s{kind} {where}"
