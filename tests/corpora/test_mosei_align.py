"""Matching CSD label rows and words to transcript segments by time, not by position."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edu_affect_data.corpora.csd import CsdEntry
from edu_affect_data.corpora.mosei_align import (
    LabelRow,
    Segment,
    assign_words,
    label_rows,
    match_labels,
    segments_from_labels,
)

from .conftest import words_array

SEGMENTS = [Segment("v_0", 0, 0.0, 4.0, "a b", 1), Segment("v_1", 1, 4.1, 8.0, "c d", 2)]


def _row(start: float, end: float, sentiment: float) -> LabelRow:
    return LabelRow("v", 0, start, end, (sentiment, 0, 0, 0, 0, 0, 0))


def test_row_goes_to_the_segment_it_overlaps_most() -> None:
    skipped: Counter[str] = Counter()
    labels = match_labels(SEGMENTS, [_row(4.0, 8.0, 1.0), _row(-0.05, 3.9, -1.0)], skipped)
    assert labels["v_1"].scores["sentiment"] == 1.0  # type: ignore[index]
    assert labels["v_0"].scores["sentiment"] == -1.0  # type: ignore[index]
    assert not skipped


def test_row_without_a_segment_and_duplicates_are_counted() -> None:
    skipped: Counter[str] = Counter()
    rows = [_row(9.0, 12.0, 0.0), _row(7.0, 12.0, 2.0), _row(0.0, 4.0, -2.0), _row(0.5, 3.5, 3.0)]
    labels = match_labels(SEGMENTS, rows, skipped)
    # 7.0-12.0 overlaps v_1 by 1.0 s, less than half of the shorter interval (3.9 s): no segment.
    assert skipped == Counter(
        {"mosei_label_rows_without_segment": 2, "mosei_label_rows_duplicate_for_segment": 1}
    )
    assert labels["v_0"].scores["sentiment"] == -2.0  # type: ignore[index]  # the larger overlap wins
    assert "v_1" not in labels


def test_unreadable_rows_are_explained() -> None:
    good = CsdEntry("v", None, np.zeros((2, 7)), np.array([[0.0, 1.0], [1.0, 2.0]]))
    nan = CsdEntry("w[0]", 0, np.full((1, 7), np.nan), np.array([[0.0, 1.0]]))
    narrow = CsdEntry("x", None, np.zeros((1, 3)), np.array([[0.0, 1.0]]))
    backwards = CsdEntry("y", None, np.zeros((1, 7)), np.array([[2.0, 1.0]]))
    negative = CsdEntry("z", None, np.zeros((1, 7)), np.array([[-0.5, 1.0]]))
    rows, errors = label_rows([good, nan, narrow, backwards, negative])
    assert len(rows) == 2
    assert errors == [
        "data/w[0] row 0: non-finite value",
        "data/x/features has 3 columns, want 7 ('sentiment', 'happy', 'sad', 'anger', 'surprise', 'disgust', 'fear')",
        "data/y row 0: end 1.0 is not after start 2.0",
        "data/z row 0: start -0.5 is before the start of the recording",
    ]


def test_segments_from_labels_prefer_aligned_key_index() -> None:
    rows = [LabelRow("v[7]", 0, 5.0, 6.0, (0,) * 7), LabelRow("v[3]", 0, 1.0, 2.0, (0,) * 7)]
    assert [(s.utterance_id, s.start_s) for s in segments_from_labels("v", rows)] == [
        ("v_3", 1.0),
        ("v_7", 5.0),
    ]


def test_words_go_to_the_segment_holding_their_midpoint() -> None:
    entry = CsdEntry(
        "v",
        None,
        words_array(["a", "sp", "b", "c", "far"]),
        np.array([[0.5, 1.0], [1.0, 3.7], [3.7, 4.15], [4.2, 5.0], [20.0, 21.0]]),
    )
    skipped: Counter[str] = Counter()
    words = assign_words(SEGMENTS, [entry], skipped)
    assert [w.text for w in words["v_0"]] == ["a", "b"]
    assert [w.text for w in words["v_1"]] == ["c"]
    assert skipped == Counter({"mosei_words_outside_segments": 1})
