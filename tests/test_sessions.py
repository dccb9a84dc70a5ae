"""Candidate sessions: one speaker, one recording, about target length, every unit placed once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edu_affect_data.corpora.mosei_align import LABEL_COLUMNS
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import Recording, SourceLabels, Utterance, Word
from edu_affect_data.corpora.registry import get_corpus
from edu_affect_data.stages.candidates import SessionsConfig, build_sessions
from tests.ingest_media import alternating_units, manifest_of

CFG = SessionsConfig(min_s=8.0, target_s=12.0, max_s=16.0)


def _recording(rid: str, corpus: str = "iemocap") -> Recording:
    return Recording(corpus, rid, Path(f"/media/{rid}.wav"), Path(f"/media/{rid}.avi"), "side_by_side")  # type: ignore[arg-type]


def _two_dialogs() -> tuple:
    units_a = alternating_units("iemocap", "Ses01F_impro01", 70.0)
    units_b = alternating_units("iemocap", "Ses01M_impro02", 45.0)
    return manifest_of("iemocap", Path("/c"), [(_recording("Ses01F_impro01"), units_a), (_recording("Ses01M_impro02"), units_b)])


def test_one_speaker_one_recording_about_target_length() -> None:
    manifest = _two_dialogs()
    units = {u.utterance_id: u for u in manifest.utterances}
    sessions = build_sessions(manifest, CFG)
    assert sessions
    for s in sessions:
        own = [units[uid] for uid in s.utterance_ids]
        assert {u.speaker_id for u in own} == {s.speaker_id}
        assert {u.recording_id for u in own} == {s.source_id}
        assert s.start_s == own[0].start_s and s.end_s == max(u.end_s for u in own)
        assert s.too_short or CFG.min_s <= s.duration_s <= CFG.max_s
    durations = [s.duration_s for s in sessions if not s.too_short]
    # Turns of one speaker come every 5.6 s, so "about target" means within one turn step.
    assert all(abs(d - CFG.target_s) <= 5.6 for d in durations)
    assert abs(sum(durations) / len(durations) - CFG.target_s) < 3.0


def test_every_annotated_unit_in_exactly_one_session_and_ids_stable() -> None:
    manifest = _two_dialogs()
    first = build_sessions(manifest, CFG)
    placed = [uid for s in first for uid in s.utterance_ids]
    assert sorted(placed) == sorted(u.utterance_id for u in manifest.utterances)
    ids = [s.session_id for s in first]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "iemocap:Ses01F_impro01:S_F:000"
    again = build_sessions(_two_dialogs(), CFG)
    assert [s.session_id for s in again] == ids
    assert [s.utterance_ids for s in again] == [s.utterance_ids for s in first]


def test_window_shows_the_other_speaker_and_unannotated_fragments() -> None:
    units = alternating_units("iemocap", "Ses02F_impro03", 40.0)
    # Make one of the male turns an X fragment: speech, but never labelled.
    fragment = next(u for u in units if u.speaker_id == "S_M")
    units = [replace(u, annotated=False) if u is fragment else u for u in units]
    manifest = manifest_of("iemocap", Path("/c"), [(_recording("Ses02F_impro03"), units)])
    sessions = build_sessions(manifest, CFG)
    assert all(fragment.utterance_id not in s.utterance_ids for s in sessions)
    female = next(s for s in sessions if s.speaker_id == "S_F" and s.start_s <= fragment.start_s < s.end_s)
    turn_speakers = {t.speaker_id for t in female.turns}
    assert turn_speakers == {"S_F", "S_M"}
    assert any(t.start_s == fragment.start_s for t in female.turns)
    # The session's own words and text are the session speaker's only.
    assert all(w.text.startswith("w") for w in female.words)
    assert female.text.count("w0") == len(female.utterance_ids)


def test_a_transcript_hole_stays_inside_one_window() -> None:
    units = alternating_units("iemocap", "Ses03F_impro01", 60.0, holes=[(20.0, 24.5)])
    manifest = manifest_of("iemocap", Path("/c"), [(_recording("Ses03F_impro01"), units)])
    sessions = build_sessions(manifest, CFG)
    covering = [s for s in sessions if s.start_s < 20.0 and s.end_s > 24.5]
    assert covering, "a pause must not split a session: the hole has to be inside some window"


def test_cut_avoids_a_short_tail_when_one_exists() -> None:
    # Seven 3 s turns every 3.5 s span 24 s: cutting greedily at ~12 s would leave a 3 s tail;
    # the exact cut gives two windows inside [min_s, max_s].
    units = [
        Utterance("mosei", f"vid_{k}", "vid", "mosei_vid", 3.5 * k, 3.5 * k + 3.0, f"t{k}")  # type: ignore[arg-type]
        for k in range(7)
    ]
    manifest = manifest_of("mosei", Path("/c"), [(_recording("vid", "mosei"), units)])
    sessions = build_sessions(manifest, CFG)
    assert len(sessions) == 2 and not any(s.too_short for s in sessions)
    assert all(CFG.min_s <= s.duration_s <= CFG.max_s for s in sessions)


def test_short_leftover_merges_into_previous_session() -> None:
    # One speaker, turns of 3 s every 3.5 s: 4 turns make 13.5 s; a 5th alone (3 s) must merge.
    units = [
        Utterance("mosei", f"vid_{k}", "vid", "mosei_vid", 3.5 * k, 3.5 * k + 3.0, f"t{k}")  # type: ignore[arg-type]
        for k in range(5)
    ]
    manifest = manifest_of("mosei", Path("/c"), [(_recording("vid", "mosei"), units)])
    sessions = build_sessions(manifest, SessionsConfig(min_s=8.0, target_s=12.0, max_s=18.0))
    assert [len(s.utterance_ids) for s in sessions] == [5]
    assert not sessions[0].too_short


def test_unmergeable_short_window_is_kept_as_too_short_candidate() -> None:
    # Two turns 30 s apart: neither can join the other within max_s, both stay (as short candidates).
    units = [
        Utterance("mosei", "v_0", "v", "mosei_v", 0.0, 3.0, "a"),  # type: ignore[arg-type]
        Utterance("mosei", "v_1", "v", "mosei_v", 33.0, 45.0, "b"),  # type: ignore[arg-type]
    ]
    manifest = manifest_of("mosei", Path("/c"), [(_recording("v", "mosei"), units)])
    sessions = build_sessions(manifest, CFG)
    assert [(s.utterance_ids, s.too_short) for s in sessions] == [(("v_0",), True), (("v_1",), False)]


def test_source_label_summary() -> None:
    def unit(k: int, labels: SourceLabels) -> Utterance:
        return Utterance("mosei", f"v_{k}", "v", "mosei_v", 3.0 * k, 3.0 * k + 2.5, f"t{k}",  # type: ignore[arg-type]
                         words=(Word(f"t{k}", 3.0 * k, 3.0 * k + 2.5),), labels=labels)

    rows = [dict.fromkeys(LABEL_COLUMNS, float(k)) for k in range(3)]
    units = [unit(k, SourceLabels(scores=rows[k])) for k in range(3)]
    manifest = manifest_of("mosei", Path("/c"), [(_recording("v", "mosei"), units)])
    (session,) = build_sessions(manifest, CFG)
    assert session.source_labels is not None
    assert session.source_labels.scores == pytest.approx(dict.fromkeys(LABEL_COLUMNS, 1.0))
    assert session.source_labels.category is None and session.custom == {}
    assert session.text == "t0 t1 t2"

    iemocap = alternating_units("iemocap", "Ses04F_impro01", 20.0, speakers=(("S_F", "left"),), turn_s=2.0)
    manifest = manifest_of("iemocap", Path("/c"), [(_recording("Ses04F_impro01"), iemocap)])
    first = build_sessions(manifest, CFG)[0]
    own = [u for u in iemocap if u.utterance_id in first.utterance_ids]
    codes = [u.labels.category for u in own if u.labels]
    # Most frequent code; a tie goes to the code heard first.
    best = max(codes.count(c) for c in codes)
    assert first.source_labels is not None
    assert first.source_labels.category == next(c for c in codes if codes.count(c) == best)
    dominance = [u.labels.scores["dominance"] for u in own if u.labels]
    assert first.source_labels.scores["dominance"] == pytest.approx(sum(dominance) / len(own))


def test_corpus_hooks_shape_the_session_summary_and_custom_fields() -> None:
    """Ingest passes each corpus's hooks; a unit's and a recording's `custom` reach the session."""
    recording = Recording("toy", "r", Path("/m/r.wav"), Path("/m/r.mp4"), "single", custom={"room": "B"})
    units = [
        Utterance("toy", f"r_{k}", "r", "p", 3.0 * k, 3.0 * k + 2.5, "w", labels=SourceLabels(category="x"),
                  custom={"take": k} if k else {})
        for k in range(3)
    ]
    manifest = manifest_of("toy", Path("/c"), [(recording, units)])
    (plain,) = build_sessions(manifest, CFG)
    assert plain.custom == {"recording": {"room": "B"}, "units": {"r_1": {"take": 1}, "r_2": {"take": 2}}}
    (hooked,) = build_sessions(
        manifest, CFG, summarize=lambda us: SourceLabels(custom={"n": len(us)}), custom=lambda rec, us: {"id": rec.recording_id}
    )
    assert hooked.source_labels == SourceLabels(custom={"n": 3}) and hooked.custom == {"id": "r"}
    assert SourceLabels.from_json(hooked.source_labels.to_json()) == hooked.source_labels


def test_built_in_preannotation_hooks() -> None:
    mapping = {"fru": "Frustrated", "sur": "Confused", "hap": "Curious"}
    iemocap, mosei = get_corpus("iemocap"), get_corpus("mosei")
    assert isinstance(iemocap, CorpusPlugin) and iemocap.preannotate(SourceLabels(category="fru"), mapping) == "Frustrated"
    assert iemocap.preannotate(SourceLabels(category="xxx"), mapping) is None
    scores = dict(zip(LABEL_COLUMNS, [2.0, 0.5, 0.0, 0.0, 0.5, 0.0, 0.0], strict=True))
    # The strongest emotion (sentiment is not one); a tie goes to the first column: happy.
    assert mosei.preannotate(SourceLabels(scores=scores), mapping) == "Curious"
    assert mosei.preannotate(SourceLabels(scores=dict.fromkeys(LABEL_COLUMNS, 0.0)), mapping) is None
    assert mosei.preannotate(SourceLabels(scores={"happy": 1.0}), mapping) is None
