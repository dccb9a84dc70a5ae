"""Cut each speaker's turns into candidate sessions of about `sessions.target_s` seconds.

A session is a window of recording time `[first turn start, last turn end]` over consecutive
annotated turns of ONE speaker in ONE recording; whatever else happens inside that window (the
other IEMOCAP actor talking, unlabelled `X` fragments) is part of what annotators see and hear,
so it is carried in `turns`. Windows are never split on pauses: a transcript hole must stay
inside a window for the gap stage to find it.

Length policy (every annotated unit ends up in exactly one candidate): each speaker's turns in a
recording are cut into consecutive windows of at most `max_s`, choosing among all such cuts the
one with the fewest windows under `min_s`, then the one closest to `target_s` (least squares).
A window that cannot reach `min_s` (e.g. a lone turn far from the speaker's others) remains a
candidate with `too_short=True`: the ingest stage gives it status `short`, so it is still a
manifest row. A single unit longer than `max_s` is a session on its own: units are never split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.corpora.plugin import session_custom, summarize_source_labels
from edu_affect_data.corpora.records import (
    Corpus,
    CorpusManifest,
    Recording,
    SourceLabels,
    Utterance,
    VideoRegion,
    Word,
)


class SessionsConfig(StrictModel):
    min_s: float = Field(20.0, gt=0, description="Shortest candidate session, seconds.")
    target_s: float = Field(30.0, gt=0, description="Length a session grows to before it is closed, seconds.")
    max_s: float = Field(40.0, gt=0, description="Longest candidate session, seconds.")

    @model_validator(mode="after")
    def _ordered(self) -> SessionsConfig:
        if not self.min_s <= self.target_s <= self.max_s:
            raise ValueError("need min_s <= target_s <= max_s")
        return self


#: A corpus hook: a session's source labels from its units (`CorpusPlugin.summarize_labels`).
Summarize = Callable[[Sequence[Utterance]], SourceLabels | None]
#: A corpus hook: a session's corpus-specific fields (`CorpusPlugin.session_custom`).
SessionCustom = Callable[[Recording, Sequence[Utterance]], dict[str, Any]]


@dataclass(frozen=True)
class Turn:
    """One unit inside a session window, as annotators see it (any speaker, labelled or not)."""

    speaker_id: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class CandidateSession:
    """A window of one speaker's speech, before the gap filter decides its fate."""

    session_id: str
    corpus: Corpus
    source_id: str
    speaker_id: str
    start_s: float
    end_s: float
    #: The session speaker's annotated units, in time order.
    utterance_ids: tuple[str, ...]
    audio_path: Path | None
    video_path: Path | None
    video_region: VideoRegion
    text: str
    words: tuple[Word, ...]
    turns: tuple[Turn, ...]
    #: What the corpus says about the session's units, summarised by the corpus's hook.
    source_labels: SourceLabels | None = None
    #: Corpus-specific fields (JSON-serialisable), from the corpus's hook.
    custom: dict[str, Any] = field(default_factory=dict)
    #: Shorter than `min_s` and impossible to merge without exceeding `max_s`.
    too_short: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def build_sessions(
    manifest: CorpusManifest,
    cfg: SessionsConfig,
    *,
    summarize: Summarize = summarize_source_labels,
    custom: SessionCustom = session_custom,
) -> list[CandidateSession]:
    """Candidate sessions of every (recording, speaker) of `manifest`, in recording order.

    Session ids are `corpus:recording:speaker:NNN` with NNN counting that speaker's sessions in
    the recording, so they are unique and identical on every rerun over the same corpus.
    `summarize` and `custom` are the corpus's hooks (ingest passes its plugin's); the defaults
    are the generic ones every plugin starts from.
    """
    sessions: list[CandidateSession] = []
    units = sorted(manifest.utterances, key=lambda u: (u.recording_id, u.start_s, u.utterance_id))
    for recording_id, group in groupby(units, key=lambda u: u.recording_id):
        recording = manifest.recordings.get(recording_id)
        if recording is None:
            raise ValueError(
                f"{manifest.corpus}: utterances refer to recording {recording_id!r}, "
                "which the reader did not list"
            )
        hooks = (summarize, custom)
        sessions.extend(_recording_sessions(recording, list(group), cfg, hooks))
    return sessions


def _recording_sessions(
    recording: Recording,
    units: list[Utterance],
    cfg: SessionsConfig,
    hooks: tuple[Summarize, SessionCustom],
) -> list[CandidateSession]:
    speakers = sorted({u.speaker_id for u in units if u.annotated})
    sessions: list[CandidateSession] = []
    for speaker in speakers:
        own = [u for u in units if u.annotated and u.speaker_id == speaker]
        chunks = _partition(own, cfg)
        for index, chunk in enumerate(chunks):
            sessions.append(_make_session(recording, speaker, index, chunk, units, cfg, hooks))
    return sessions


def _partition(units: list[Utterance], cfg: SessionsConfig) -> list[list[Utterance]]:
    """Cut one speaker's turns into consecutive windows: fewest short ones, then closest to target.

    Exact dynamic programme over cut points (O(n^2) in the speaker's turns of one recording,
    a few hundred at most): a window may not exceed `max_s` unless it is a single unit; among
    the cuts with the fewest windows under `min_s`, it takes the smallest sum of squared
    differences to `target_s`. Ties go to the first cut found, so the result is deterministic.
    """
    n = len(units)
    best: list[tuple[int, float] | None] = [(0, 0.0)] + [None] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        end = float("-inf")
        for i in range(j - 1, -1, -1):
            end = max(end, units[i].end_s)
            window = end - units[i].start_s
            if window > cfg.max_s and j - i > 1:
                break  # windows only grow as they start earlier
            previous = best[i]
            assert previous is not None  # every prefix has at least the one-unit-per-window cut
            candidate = (previous[0] + (window < cfg.min_s), previous[1] + (window - cfg.target_s) ** 2)
            current = best[j]
            if current is None or candidate < current:
                best[j], back[j] = candidate, i
    chunks: list[list[Utterance]] = []
    j = n
    while j > 0:
        chunks.append(units[back[j] : j])
        j = back[j]
    return chunks[::-1]


def _make_session(
    recording: Recording,
    speaker: str,
    index: int,
    chunk: list[Utterance],
    recording_units: list[Utterance],
    cfg: SessionsConfig,
    hooks: tuple[Summarize, SessionCustom],
) -> CandidateSession:
    summarize, custom = hooks
    start, end = chunk[0].start_s, max(u.end_s for u in chunk)
    regions = {u.video_region for u in chunk}
    if len(regions) != 1:
        raise ValueError(
            f"{recording.recording_id}: speaker {speaker} appears in several video regions "
            f"{sorted(regions)} (units {chunk[0].utterance_id}..{chunk[-1].utterance_id})"
        )
    turns = tuple(
        Turn(u.speaker_id, u.start_s, u.end_s, u.text)
        for u in recording_units
        if u.end_s > start and u.start_s < end
    )
    return CandidateSession(
        session_id=f"{recording.corpus}:{recording.recording_id}:{speaker}:{index:03d}",
        corpus=recording.corpus,
        source_id=recording.recording_id,
        speaker_id=speaker,
        start_s=start,
        end_s=end,
        utterance_ids=tuple(u.utterance_id for u in chunk),
        audio_path=recording.audio_path,
        video_path=recording.video_path,
        video_region=regions.pop(),
        text=" ".join(u.text.strip() for u in chunk if u.text.strip()),
        words=tuple(w for u in chunk for w in u.words),
        turns=turns,
        source_labels=summarize(chunk),
        custom=custom(recording, chunk),
        too_short=end - start < cfg.min_s,
    )
