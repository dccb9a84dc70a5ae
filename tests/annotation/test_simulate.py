"""Simulated annotators: truth by majority of units, seeded votes with the configured noise."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from edu_affect_data.annotation.options import SimulateConfig, SimulatedAnnotator
from edu_affect_data.annotation.simulate import (
    TruthError,
    annotator_vote,
    assigned_annotators,
    load_unit_emotions,
    reviewer_vote,
    session_emotions,
    session_truths,
    truth_path,
)
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

SESSIONS = [f"Ses01F_impro01_M_{k:03d}" for k in range(4000)]


def test_session_truth_is_the_majority_of_its_units(tmp_path: Path) -> None:
    units = [
        {"corpus": "iemocap", "id": "u1", "emotion": "Bored"},
        {"corpus": "iemocap", "id": "u2", "emotion": "Curious"},
        {"corpus": "iemocap", "id": "u3", "emotion": "Curious"},
        {"corpus": "mosei", "id": "u1", "emotion": "Frustrated"},
    ]
    path = tmp_path / "synth_truth.json"
    path.write_text(json.dumps({"units": units}))
    emotions = load_unit_emotions(path)
    sessions = [
        {"session_id": "a", "corpus": "iemocap", "utterance_ids": ["u1", "u2", "u3"]},
        {"session_id": "tie", "corpus": "iemocap", "utterance_ids": ["u1", "u2"]},
        {"session_id": "m", "corpus": "mosei", "utterance_ids": ["u1"]},
    ]
    assert session_emotions(sessions, emotions) == {"a": "Curious", "tie": "Bored", "m": "Frustrated"}
    with pytest.raises(TruthError, match="session b: unit"):
        session_emotions([{"session_id": "b", "corpus": "iemocap", "utterance_ids": ["u9"]}], emotions)


def test_truth_defaults_to_the_file_next_to_the_corpora(tmp_path: Path) -> None:
    simulate = SimulateConfig()
    recording = tmp_path / "IEMOCAP_full_release" / "Session1" / "dialog" / "wav" / "Ses01F_impro01.wav"
    with pytest.raises(TruthError, match=r"no folder above .* holds synth_truth\.json"):
        truth_path(simulate, recording)
    (tmp_path / "synth_truth.json").write_text(json.dumps({"units": [{"corpus": "iemocap", "id": "u", "emotion": "Happy"}]}))
    assert truth_path(simulate, recording) == tmp_path / "synth_truth.json"
    assert truth_path(SimulateConfig(truth=tmp_path / "elsewhere.json"), recording) == tmp_path / "elsewhere.json"
    with pytest.raises(TruthError, match=r"units\[0\] \(u\)"):
        load_unit_emotions(tmp_path / "synth_truth.json")


def test_session_truths_read_the_file_above_each_recording(tmp_path: Path) -> None:
    units = [{"corpus": "iemocap", "id": "u1", "emotion": "Bored"}, {"corpus": "mosei", "id": "v", "emotion": "Curious"}]
    (tmp_path / "synth_truth.json").write_text(json.dumps({"units": units}))
    sessions = [
        {"session_id": "a", "corpus": "iemocap", "utterance_ids": ["u1"], "audio_path": str(tmp_path / "I" / "a.wav"),
         "video_path": None},
        {"session_id": "m", "corpus": "mosei", "utterance_ids": ["v"], "audio_path": None,
         "video_path": str(tmp_path / "M" / "Raw" / "m.mp4")},
    ]  # fmt: skip
    assert session_truths(SimulateConfig(), sessions) == {"a": "Bored", "m": "Curious"}


def test_votes_follow_accuracy_abstention_and_bias() -> None:
    annotator = SimulatedAnnotator(name="a", accuracy=0.8, cannot_tell=0.1, bias="Bored")
    votes = Counter(annotator_vote(annotator, 0, "Curious", seed=3, session_id=s) for s in SESSIONS)
    n = len(SESSIONS)
    assert votes[ABSTAIN] / n == pytest.approx(0.1, abs=0.02)
    assert votes["Curious"] / n == pytest.approx(0.9 * 0.8, abs=0.03)
    wrong = n * 0.9 * 0.2
    assert votes["Bored"] / wrong == pytest.approx(0.5 + 0.5 / 3, abs=0.06)
    assert votes["Confused"] / wrong == pytest.approx(0.5 / 3, abs=0.05)


def test_votes_are_seeded_per_session_not_per_order() -> None:
    annotator = SimulatedAnnotator(name="a", accuracy=0.5)
    forward = [annotator_vote(annotator, 1, "Bored", seed=0, session_id=s) for s in SESSIONS[:50]]
    backward = [annotator_vote(annotator, 1, "Bored", seed=0, session_id=s) for s in reversed(SESSIONS[:50])]
    assert forward == backward[::-1]
    other_seed = [annotator_vote(annotator, 1, "Bored", seed=1, session_id=s) for s in SESSIONS[:50]]
    assert forward != other_seed
    assert {reviewer_vote(0.0, "Bored", seed=0, session_id=s) for s in SESSIONS[:50]} <= set(CLASSES) - {"Bored"}


def test_assignment_draws_distinct_annotators_and_refuses_too_few() -> None:
    chosen = [assigned_annotators(5, 3, initial=3, seed=0, session_id=s) for s in SESSIONS[:300]]
    assert all(len(set(c)) == 3 for c in chosen)
    assert Counter(i for c in chosen for i in c).keys() == {0, 1, 2, 3, 4}
    assert assigned_annotators(3, 3, initial=3, seed=0, session_id="x") == [0, 1, 2]
    with pytest.raises(ValueError, match="2 annotator"):
        assigned_annotators(2, 3, initial=3, seed=0, session_id="x")


def test_raising_a_task_adds_the_next_annotator_and_keeps_who_voted() -> None:
    for session in SESSIONS[:200]:
        first = assigned_annotators(4, 2, initial=2, seed=0, session_id=session)
        raised = assigned_annotators(4, 3, initial=2, seed=0, session_id=session)
        assert raised[:2] == first == sorted(first) and raised[2] not in first
    thirds = Counter(assigned_annotators(3, 3, initial=2, seed=0, session_id=s)[2] for s in SESSIONS)
    assert set(thirds) == {0, 1, 2} and min(thirds.values()) > len(SESSIONS) / 3 - 60


def test_a_drifting_annotator_is_worse_after_the_drop() -> None:
    steady = SimulatedAnnotator(name="a", accuracy=0.9)
    drifting = SimulatedAnnotator(name="a", accuracy=0.9, drift={"after": 100, "accuracy": 0.2})
    votes = [
        annotator_vote(drifting, 0, "Bored", seed=0, session_id=s, vote_number=n)
        for n, s in enumerate(SESSIONS, start=1)
    ]
    before = [v == "Bored" for v in votes[:100]]
    after = [v == "Bored" for v in votes[100:]]
    assert sum(before) / len(before) == pytest.approx(0.9, abs=0.06)
    assert sum(after) / len(after) == pytest.approx(0.2, abs=0.04)
    # Before the drop it is the same person as a steady annotator, vote for vote.
    assert votes[:100] == [annotator_vote(steady, 0, "Bored", seed=0, session_id=s) for s in SESSIONS[:100]]
