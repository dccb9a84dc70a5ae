"""Both readers on the synthetic `tiny` corpora agree with `synth_truth.json`.

What the readers must recover: every unit except those of transcript holes (written nowhere);
for a recording whose transcript file is missing, the labelled units (recovered from
EmoEvaluation / the labels CSD; IEMOCAP `X` fragments are in neither); the truth's speakers and
times; and a Problem for exactly the broken files a reader can see without decoding media
(`missing_transcript`, `malformed_emo_line`), nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edu_affect_data.corpora.iemocap import read_iemocap
from edu_affect_data.corpora.mosei import read_mosei
from edu_affect_data.corpora.records import CorpusManifest

READER_VISIBLE = {"missing_transcript", "malformed_emo_line"}


@pytest.fixture(scope="module")
def truth(tiny_corpora: Path) -> dict[str, Any]:
    return json.loads((tiny_corpora / "synth_truth.json").read_text())


@pytest.fixture(scope="module")
def manifests(tiny_corpora: Path) -> dict[str, CorpusManifest]:
    return {
        "iemocap": read_iemocap(tiny_corpora / "IEMOCAP_full_release"),
        "mosei": read_mosei(tiny_corpora / "CMU_MOSEI"),
    }


def _in_hole(unit: dict[str, Any], truth: dict[str, Any]) -> bool:
    return any(
        f["kind"] == "hole" and f["corpus"] == unit["corpus"] and unit["id"] in f["units"]
        for f in truth["faults"]
    )


def _expected_units(corpus: str, truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    no_transcript = {
        b["recording"]
        for b in truth["broken_files"]
        if b["kind"] == "missing_transcript" and b["corpus"] == corpus
    }
    return {
        u["id"]: u
        for u in truth["units"]
        if u["corpus"] == corpus
        and not _in_hole(u, truth)
        and not (u["recording"] in no_transcript and "XX" in u["id"])
    }


@pytest.mark.parametrize("corpus", ["iemocap", "mosei"])
def test_units_speakers_and_times_match_truth(
    corpus: str, truth: dict[str, Any], manifests: dict[str, CorpusManifest]
) -> None:
    expected = _expected_units(corpus, truth)
    read = {u.utterance_id: u for u in manifests[corpus].utterances}
    assert sorted(read) == sorted(expected)
    for uid, unit in expected.items():
        got = read[uid]
        assert (got.recording_id, got.speaker_id) == (unit["recording"], unit["speaker"]), uid
        assert got.start_s == pytest.approx(unit["start_s"], abs=1e-3), uid
        assert got.end_s == pytest.approx(unit["end_s"], abs=1e-3), uid
    assert {u["recording"] for u in truth["units"] if u["corpus"] == corpus} <= set(
        manifests[corpus].recordings
    )


def test_units_of_transcript_holes_are_not_read(
    truth: dict[str, Any], manifests: dict[str, CorpusManifest]
) -> None:
    holes = [f for f in truth["faults"] if f["kind"] == "hole"]
    assert {f["corpus"] for f in holes} == {"iemocap", "mosei"}
    for fault in holes:
        read = {u.utterance_id for u in manifests[fault["corpus"]].utterances}
        assert fault["units"] and not read & set(fault["units"])


@pytest.mark.parametrize("corpus", ["iemocap", "mosei"])
def test_problems_are_exactly_the_visible_broken_files(
    corpus: str, tiny_corpora: Path, truth: dict[str, Any], manifests: dict[str, CorpusManifest]
) -> None:
    broken = [
        b for b in truth["broken_files"] if b["corpus"] == corpus and b["kind"] in READER_VISIBLE
    ]
    got = sorted(
        (str(Path(p.path).relative_to(tiny_corpora)), p.recording_id, p.utterance_id)
        for p in manifests[corpus].problems
    )
    want = sorted((b["path"], b["recording"], b.get("unit")) for b in broken)
    assert got == want


def test_annotated_units_carry_source_labels(manifests: dict[str, CorpusManifest]) -> None:
    for manifest in manifests.values():
        labelled = [u for u in manifest.utterances if u.annotated]
        assert labelled and all(u.labels is not None for u in labelled)
    fragments = [u for u in manifests["iemocap"].utterances if not u.annotated]
    assert fragments and all(u.labels is None for u in fragments)
    assert manifests["iemocap"].skipped["iemocap_transcript_lines_without_times"] >= 1


def test_word_times_leave_exactly_the_recorded_holes(
    truth: dict[str, Any], manifests: dict[str, CorpusManifest]
) -> None:
    """The contract's transcript gap: the union of every speaker's words, holes uncovered."""
    for fault in (f for f in truth["faults"] if f["kind"] == "hole"):
        words = [
            w
            for u in manifests[fault["corpus"]].utterances
            if u.recording_id == fault["recording"]
            for w in u.words
        ]
        start, end = fault["start_s"], fault["end_s"]
        assert not [w for w in words if w.end_s > start + 1e-3 and w.start_s < end - 1e-3]
        assert min(abs(w.end_s - start) for w in words) < 1e-3
        assert min(abs(w.start_s - end) for w in words) < 1e-3
