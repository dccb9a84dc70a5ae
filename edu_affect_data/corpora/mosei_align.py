"""Attach the CSD label rows and timed words of one MOSEI video to its transcript segments.

The labels CSD lists each segment's 7 scores with its interval, in no particular order and with
times that may differ slightly from the transcript's, so rows are matched to segments by interval
overlap, never by position. Words are assigned to the segment holding their midpoint.

Choices (documented for users of the reader):

* A label row belongs to the segment it overlaps most among those it describes (`common.same_unit`:
  the overlap covers at least half of the shorter of the two intervals); otherwise it is counted
  as `mosei_label_rows_without_segment` (a segment missing from the transcript, e.g. a transcript
  hole, looks like that).
* Two rows for one segment: the larger overlap wins, the other is counted.
* Values outside their documented range (sentiment [-3, 3], emotions [0, 3]) are **kept as
  published** and counted as `mosei_label_values_out_of_range_kept`; clipping would invent data.
  Non-finite values, and times that `common.readable_times` refuses (negative, backward), make the
  row unreadable (a Problem), as the same times do in a transcript.
* `sp` (silence) and empty tokens are not words. A word whose time is not finite or negative is a
  Problem naming the key and row (the word cannot be placed in any segment).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from edu_affect_data.corpora.common import readable_times, same_unit
from edu_affect_data.corpora.csd import CsdEntry, decode_words, split_key
from edu_affect_data.corpora.records import SourceLabels, Word

LABEL_COLUMNS = ("sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear")
_RANGES = {"sentiment": (-3.0, 3.0)} | {name: (0.0, 3.0) for name in LABEL_COLUMNS[1:]}
SILENCE = frozenset({"sp", ""})


@dataclass(frozen=True)
class Segment:
    utterance_id: str
    index: int
    start_s: float
    end_s: float
    text: str
    line: int | None  # transcript line, None when rebuilt from the labels CSD


@dataclass(frozen=True)
class LabelRow:
    key: str
    row: int
    start_s: float
    end_s: float
    values: tuple[float, ...]


def label_rows(entries: list[CsdEntry]) -> tuple[list[LabelRow], list[str]]:
    """Rows of 7 finite values; the second list says why each other row is unreadable."""
    rows: list[LabelRow] = []
    errors: list[str] = []
    for entry in entries:
        if entry.features.shape[1] != len(LABEL_COLUMNS):
            errors.append(
                f"data/{entry.key}/features has {entry.features.shape[1]} columns, want 7 {LABEL_COLUMNS}"
            )
            continue
        for i, (interval, values) in enumerate(zip(entry.intervals, entry.features, strict=True)):
            floats = tuple(float(v) for v in values)
            start, end = float(interval[0]), float(interval[1])
            times_problem = readable_times(start, end)
            if not all(math.isfinite(v) for v in floats):
                errors.append(f"data/{entry.key} row {i}: non-finite value")
            elif times_problem is not None:
                errors.append(f"data/{entry.key} row {i}: {times_problem}")
            else:
                rows.append(LabelRow(entry.key, i, start, end, floats))
    return rows, errors


def match_labels(
    segments: list[Segment], rows: list[LabelRow], skipped: Counter[str]
) -> dict[str, SourceLabels]:
    """Labels per segment id, by largest interval overlap (see module docstring for the rules)."""
    best: dict[str, tuple[float, LabelRow]] = {}
    for row in rows:
        scored = [(same_unit((seg.start_s, seg.end_s), (row.start_s, row.end_s)), seg) for seg in segments]
        overlap, segment = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if segment is None or overlap <= 0:
            skipped["mosei_label_rows_without_segment"] += 1
            continue
        if segment.utterance_id in best:
            skipped["mosei_label_rows_duplicate_for_segment"] += 1
            if best[segment.utterance_id][0] >= overlap:
                continue
        best[segment.utterance_id] = (overlap, row)
    labels: dict[str, SourceLabels] = {}
    for segment_id, (_, row) in best.items():
        values = dict(zip(LABEL_COLUMNS, row.values, strict=True))
        outside = [
            name for name, v in values.items() if not _RANGES[name][0] <= v <= _RANGES[name][1]
        ]
        if outside:
            skipped["mosei_label_values_out_of_range_kept"] += len(outside)
        labels[segment_id] = SourceLabels(scores=values)
    return labels


def segments_from_labels(video_id: str, rows: list[LabelRow]) -> list[Segment]:
    """Segments rebuilt from label intervals when the transcript is missing (empty text).

    Index k from a `<video_id>[k]` key when the CSD is SDK-aligned, else the time order.
    """
    ordered = sorted(rows, key=lambda r: (r.start_s, r.end_s))
    segments = []
    for order, row in enumerate(ordered):
        aligned = split_key(row.key)[1]
        index = aligned if aligned is not None else order
        segments.append(Segment(f"{video_id}_{index}", index, row.start_s, row.end_s, "", None))
    return segments


def unplaceable_words(entries: list[CsdEntry]) -> list[str]:
    """Why words of a words CSD have no place in time: per key, the first non-finite or negative time."""
    errors = []
    for entry in entries:
        bad = ~np.isfinite(entry.intervals).all(axis=1) | (entry.intervals < 0).any(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            start, end = entry.intervals[row].tolist()
            errors.append(
                f"data/{entry.key} row {row}: word time {start}-{end} is not finite or before the start "
                f"of the recording ({int(bad.sum())} such row(s))"
            )
    return errors


def assign_words(
    segments: list[Segment], entries: list[CsdEntry], skipped: Counter[str]
) -> dict[str, list[Word]]:
    """Words (no `sp`) per segment id, each in the segment holding its midpoint, time-sorted."""
    words: dict[str, list[Word]] = {seg.utterance_id: [] for seg in segments}
    ordered = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    starts = np.array([s.start_s for s in ordered])
    for entry in entries:
        middles = entry.intervals.mean(axis=1)
        candidates = np.searchsorted(starts, middles, side="right") - 1
        for text, (start, end), middle, k in zip(
            decode_words(entry.features),
            entry.intervals.tolist(),
            middles.tolist(),
            candidates.tolist(),
            strict=True,
        ):
            text = text.strip()
            if text in SILENCE:
                continue
            home = (
                ordered[k]
                if k >= 0 and middle <= ordered[k].end_s
                else _containing(ordered, middle)
            )
            if home is None:
                skipped["mosei_words_outside_segments"] += 1
                continue
            words[home.utterance_id].append(Word(text, start, end))
    for bucket in words.values():
        bucket.sort(key=lambda w: (w.start_s, w.end_s))
    return words


def _containing(segments: list[Segment], t: float) -> Segment | None:
    """Slow path for overlapping segments: the first one holding `t`."""
    return next((s for s in segments if s.start_s <= t <= s.end_s), None)

