"""Where the gaps and broken files go, and the intervals they really occupy once rendered.

Faults are clearly short (<= 1.5 s) or clearly long (>= 3 s) and sit in the middle 70 % of a
recording, at least `MARGIN_S` from each other, so that long ones fall inside candidate sessions
and each can be checked on its own. Intervals are snapped to what the media can represent (10 ms
audio frames, whole video frames) and the snapped interval is what the truth records. Recordings
with a file-level break (truncated wav, undecodable video, missing transcript) get no faults:
all their sessions are errors anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edu_affect_data.synth.plan import FaultPlan, RecordingPlan, UnitPlan

MARGIN_S = 2.0
SHORT_S = (0.5, 1.3)
LONG_S = (3.2, 5.0)
#: Shortest realised transcript hole counted as long, and longest counted as short.
LONG_MIN_S = 3.0
SHORT_MAX_S = 1.5

FILE_LEVEL = frozenset({"truncated_wav", "undecodable_video", "missing_transcript"})


@dataclass(frozen=True)
class FaultJob:
    modality: str
    kind: str
    region: str
    long: bool


IEMOCAP_CATALOGUE: tuple[FaultJob, ...] = (
    FaultJob("video", "missing", "full", True),  # the AVI stream ends early
    FaultJob("video", "missing", "full", False),
    FaultJob("text", "hole", "full", True),
    FaultJob("text", "hole", "full", False),
    FaultJob("audio", "dropout", "full", True),
    FaultJob("audio", "dropout", "full", False),
    FaultJob("video", "black", "left", True),
    FaultJob("video", "black", "right", False),
    FaultJob("video", "black", "full", True),
    FaultJob("video", "frozen", "right", True),
    FaultJob("video", "frozen", "left", False),
)

MOSEI_CATALOGUE: tuple[FaultJob, ...] = (
    FaultJob("text", "hole", "full", True),
    FaultJob("video", "missing", "full", True),  # MP4 timestamps jump
    FaultJob("video", "missing", "full", False),
    FaultJob("audio", "dropout", "full", True),
    FaultJob("audio", "dropout", "full", False),
    FaultJob("video", "black", "full", True),
    FaultJob("video", "black", "full", False),
    FaultJob("video", "frozen", "full", True),
    FaultJob("video", "frozen", "full", False),
)

IEMOCAP_BROKEN = ("truncated_wav", "missing_transcript", "malformed_emo_line", "undecodable_video")
MOSEI_BROKEN = ("undecodable_video", "missing_transcript", "truncated_wav")


def assign_broken(
    ids: list[str], sessions: list[int | None], kinds: tuple[str, ...], rng: np.random.Generator
) -> dict[str, list[str]]:
    """One recording per broken kind, file-level ones spread over sessions so every actor keeps usable dialogs."""
    order = [int(i) for i in rng.permutation(len(ids))]
    used_sessions: set[int | None] = set()
    taken: set[str] = set()
    out: dict[str, list[str]] = {}
    for kind in kinds:
        candidates = [i for i in order if ids[i] not in taken]
        preferred = [
            i for i in candidates if sessions[i] not in used_sessions or sessions[i] is None
        ]
        pick = (preferred or candidates)[0]
        out.setdefault(ids[pick], []).append(kind)
        taken.add(ids[pick])
        if kind in FILE_LEVEL:
            used_sessions.add(sessions[pick])
    return out


def assign_jobs(
    ids: list[str], jobs: list[FaultJob], rng: np.random.Generator
) -> dict[str, list[FaultJob]]:
    """Spread jobs over recordings, least loaded first; at most one of each exclusive job per recording."""
    load: dict[str, list[FaultJob]] = {i: [] for i in ids}
    order = [ids[int(i)] for i in rng.permutation(len(ids))]
    exclusive = {("video", "missing"), ("text", "hole")}
    ranked = sorted(jobs, key=lambda j: (j.modality, j.kind) not in exclusive)
    for job in ranked:

        def allowed(rec: str, job: FaultJob = job) -> bool:
            if (job.modality, job.kind) not in exclusive:
                return True
            return all(
                (j.modality, j.kind, j.long) != (job.modality, job.kind, job.long)
                for j in load[rec]
            ) and not (job.kind == "missing" and any(j.kind == "missing" for j in load[rec]))

        candidates = [r for r in order if allowed(r)]
        if not candidates:
            raise RuntimeError(f"too few recordings for fault {job}")
        target = min(candidates, key=lambda r: len(load[r]))
        load[target].append(job)
    return load


def _word_edges(units: list[UnitPlan]) -> list[tuple[float, float]]:
    return sorted((w0, w1) for u in units if u.transcribed for _, w0, w1 in u.words())


def hole_interval(plan: RecordingPlan, removed: list[UnitPlan]) -> tuple[float, float]:
    """From the end of the last transcribed word before the hole to the start of the first after it."""
    start, end = removed[0].start_s, removed[-1].end_s
    edges = _word_edges([u for u in plan.units if u not in removed])
    before = max(w1 for w0, w1 in edges if w1 <= start + 1e-9)
    after = min(w0 for w0, w1 in edges if w0 >= end - 1e-9)
    return round(before, 4), round(after, 4)


def _long_hole(plan: RecordingPlan) -> list[UnitPlan]:
    """Consecutive units whose removal leaves at least `LONG_MIN_S` + 0.2 s without a word, with words
    on both sides: the first such run from the unit at 35 % of the recording; where none fits there
    (a short recording of few long units), the run whose start is nearest to that unit."""
    units = plan.units
    preferred = next(i for i, u in enumerate(units) if u.start_s >= 0.35 * plan.duration_s)
    for first in sorted(range(1, len(units) - 1), key=lambda i: (i != preferred, abs(i - preferred), i)):
        for last in range(first, len(units) - 1):
            removed = units[first : last + 1]
            lo, hi = hole_interval(plan, removed)
            if hi - lo >= LONG_MIN_S + 0.2:
                return removed
    raise RuntimeError(f"{plan.recording_id}: no room for a long transcript hole ({len(units)} units in {plan.duration_s:.1f} s)")


def _place_hole(plan: RecordingPlan, long: bool) -> FaultPlan:
    units = plan.units
    removed = _long_hole(plan) if long else [next(u for u in units if u.hole_slot)]
    lo, hi = hole_interval(plan, removed)
    if not long and hi - lo > SHORT_MAX_S:
        raise RuntimeError(f"{plan.recording_id}: short hole realised {hi - lo:.2f} s")
    for unit in removed:
        unit.transcribed = False
    return FaultPlan("text", "hole", "full", lo, hi, units=tuple(u.unit_id for u in removed))


def _free_start(plan: RecordingPlan, length: float, rng: np.random.Generator) -> float:
    """A start drawn uniformly from all starts that keep the fault clear of the others."""
    feasible = [(0.15 * plan.duration_s, 0.85 * plan.duration_s - length)]
    for f in plan.faults:
        blocked = (f.start_s - MARGIN_S - length, f.end_s + MARGIN_S)
        feasible = [
            piece
            for lo, hi in feasible
            for piece in ((lo, min(hi, blocked[0])), (max(lo, blocked[1]), hi))
            if piece[1] > piece[0]
        ]
    total = sum(hi - lo for lo, hi in feasible)
    if total <= 0:
        raise RuntimeError(f"{plan.recording_id}: no room left for a {length:.1f}-s fault")
    point = float(rng.uniform(0, total))
    for lo, hi in feasible:
        if point <= hi - lo:
            return lo + point
        point -= hi - lo
    return feasible[-1][1]


def _realise(plan: RecordingPlan, job: FaultJob, rng: np.random.Generator) -> FaultPlan:
    length = float(rng.uniform(*(LONG_S if job.long else SHORT_S)))
    fps = plan.fps
    if job.kind == "missing" and plan.corpus == "iemocap":
        first = math.ceil((plan.duration_s - length) * fps)
        return FaultPlan("video", "missing", "full", round(first / fps, 6), plan.duration_s)
    start = _free_start(plan, length, rng)
    if job.modality == "audio":
        return FaultPlan("audio", "dropout", "full", round(start, 2), round(start + length, 2))
    first, stop = math.ceil(start * fps), math.ceil((start + length) * fps)
    return FaultPlan("video", job.kind, job.region, round(first / fps, 6), round(stop / fps, 6))


def place_faults(plan: RecordingPlan, jobs: list[FaultJob], rng: np.random.Generator) -> None:
    """Holes first (they follow the turns), then the end-of-stream cut, then the rest anywhere free."""
    for job in sorted(
        jobs,
        key=lambda j: (
            j.kind != "hole",
            j.kind != "missing" or plan.corpus != "iemocap",
            not j.long,
        ),
    ):
        if job.kind == "hole":
            plan.faults.append(_place_hole(plan, job.long))
        else:
            plan.faults.append(_realise(plan, job, rng))
    plan.faults.sort(key=lambda f: f.start_s)


def pick_unit(plan: RecordingPlan, rng: np.random.Generator) -> UnitPlan:
    """An ordinary annotated unit in the middle, away from holes (for a missing .wdseg or a bad line)."""
    near_hole: set[int] = set()
    for i, u in enumerate(plan.units):
        if not u.transcribed:
            near_hole |= {i - 1, i, i + 1}
    middle = [
        u
        for i, u in enumerate(plan.units)
        if i not in near_hole
        and u.annotated
        and not u.hole_slot
        and 0.2 * plan.duration_s < u.start_s < 0.8 * plan.duration_s
    ]
    return middle[int(rng.integers(len(middle)))]
