"""The gap filter on hand-made media: `gap` exactly when a modality is empty > 2.0 s in the window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from edu_affect_data.corpora.records import CorpusManifest, Problem, Recording, Utterance
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.timelines import Gap, Timeline
from edu_affect_data.stages.candidates import CandidateSession, SessionsConfig, build_sessions
from edu_affect_data.stages.gaps import (
    SessionVerdict,
    assess_sessions,
    session_problems,
    text_timeline,
)
from tests.ingest_media import (
    VideoFault,
    alternating_units,
    manifest_of,
    overlap,
    truncate_wav,
    write_avi,
    write_mp4_with_jump,
    write_wav,
)

SESSIONS = SessionsConfig(min_s=8.0, target_s=12.0, max_s=16.0)
GAPS = GapsConfig()


@dataclass(frozen=True)
class Fault:
    recording: str
    modality: str
    start_s: float
    end_s: float
    region: str = "full"


def _hole(units: list[Utterance], start: float, end: float) -> tuple[float, float]:
    """The realised transcript hole: last word end before `start` to first word start after `end`."""
    words = sorted((w for u in units for w in u.words), key=lambda w: w.start_s)
    before = max(w.end_s for w in words if w.end_s <= start)
    after = min(w.start_s for w in words if w.start_s >= end)
    return before, after


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[CorpusManifest, list[CandidateSession], list[SessionVerdict], list[Fault]]:
    root = tmp_path_factory.mktemp("gapmedia")
    faults: list[Fault] = []
    recordings: list[tuple[Recording, list[Utterance]]] = []

    # A side-by-side dialog with every kind of fault, short ones and long ones.
    rid = "Ses01F_impro01"
    units = alternating_units("iemocap", rid, 60.0, holes=[(48.0, 52.0)])
    wav = write_wav(root / f"{rid}.wav", 60.0, dropouts=[(8.0, 9.5), (35.0, 38.1)])
    video_faults = [
        VideoFault(20.0, 23.0, "left", "black"),
        VideoFault(20.0, 21.2, "right", "black"),
        VideoFault(22.5, 26.0, "right", "frozen"),
        VideoFault(1.0, 2.4, "left", "frozen"),
    ]
    avi = write_avi(root / f"{rid}.avi", 60.0, video_faults)
    recordings.append((Recording("iemocap", rid, wav, avi, "side_by_side"), units))
    faults += [Fault(rid, "audio", 8.0, 9.5), Fault(rid, "audio", 35.0, 38.1)]
    faults += [Fault(rid, "video", f.start_s, f.end_s, f.region) for f in video_faults]
    faults.append(Fault(rid, "text", *_hole(units, 48.0, 52.0)))

    # A single-speaker video whose timestamps jump (3 s of frames missing).
    rid = "jumpvid0001"
    units = alternating_units("mosei", rid, 40.0, speakers=(("mosei_jump", "full"),), pause_s=0.2)
    wav = write_wav(root / f"{rid}.wav", 40.0, seed=1)
    mp4 = write_mp4_with_jump(root / f"{rid}.mp4", 40.0, jump_at_s=15.0, jump_s=3.0, seed=1)
    recordings.append((Recording("mosei", rid, wav, mp4, "single"), units))
    faults.append(Fault(rid, "video", 15.0, 18.0))

    # A video stream that ends 8 s before the audio.
    rid = "shortvid001"
    units = alternating_units("mosei", rid, 40.0, speakers=(("mosei_short", "full"),), pause_s=0.2)
    wav = write_wav(root / f"{rid}.wav", 40.0, seed=2)
    avi = write_avi(root / f"{rid}.avi", 32.0, side_by_side=False, seed=2)
    recordings.append((Recording("mosei", rid, wav, avi, "single"), units))
    faults.append(Fault(rid, "video", 32.0, 40.0))

    manifest = manifest_of("mixed", root, recordings)
    sessions = build_sessions(manifest, SESSIONS)
    verdicts = assess_sessions(sessions, manifest, GAPS, min_s=SESSIONS.min_s)
    return manifest, sessions, verdicts, faults


def _expected_gap(session: CandidateSession, faults: list[Fault]) -> bool:
    window = (session.start_s, session.end_s)
    hits = [
        overlap(window, (f.start_s, f.end_s))
        for f in faults
        if f.recording == session.source_id and (f.modality != "video" or f.region in ("full", session.video_region))
    ]
    # Guard the test itself: no window may sit on the threshold, where rounding would decide.
    assert all(abs(h - GAPS.threshold_s) > 0.2 for h in hits), (session.session_id, hits)
    return any(h > GAPS.threshold_s for h in hits)


def test_gap_exactly_when_a_fault_covers_more_than_the_threshold(judged) -> None:
    _, sessions, verdicts, faults = judged
    expected = [_expected_gap(s, faults) for s in sessions]
    got = [v.status == "gap" for v in verdicts]
    mismatched = [(s.session_id, s.start_s, s.end_s, v.reason) for s, v, e, g in zip(sessions, verdicts, expected, got, strict=True) if e != g]
    assert not mismatched
    assert sum(got) >= 5 and sum(not g for g in got) >= 5
    assert {v.status for v in verdicts} <= {"kept", "gap", "short"}


def test_each_fault_kind_is_named_in_the_reason(judged) -> None:
    _, sessions, verdicts, _ = judged
    reasons = " | ".join(v.reason for v in verdicts)
    for fragment in ("audio gap 3.10 s at 35.00-38.10", "(black)", "(frozen)", "(missing)", "text gap"):
        assert fragment in reasons
    by_id = {s.session_id: (s, v) for s, v in zip(sessions, verdicts, strict=True)}
    # The 1.5 s dropout is measured but removes nothing.
    for s, v in by_id.values():
        if s.source_id == "Ses01F_impro01" and s.start_s < 8.0 and s.end_s > 9.5:
            assert v.gaps["audio"] is not None and v.gaps["audio"].duration_s == pytest.approx(1.5, abs=0.011)
            assert v.status == "kept"
    # So is a 1.4 s frozen stretch.
    (first_left,) = [(s, v) for s, v in by_id.values() if s.source_id == "Ses01F_impro01" and s.start_s < 1.0 and s.video_region == "left"]
    video_gap = first_left[1].gaps["video"]
    assert first_left[1].status == "kept" and video_gap is not None and video_gap.kind == "frozen"
    assert (video_gap.start_s, video_gap.end_s) == pytest.approx((1.0, 2.4))
    # A fault in one actor's half removes only that actor's sessions.
    left_black = [v for s, v in by_id.values() if s.video_region == "left" and "(black)" in v.reason]
    right_black = [v for s, v in by_id.values() if s.video_region == "right" and "(black)" in v.reason]
    assert left_black and not right_black


@pytest.mark.slow
def test_broken_files_and_reader_problems_give_error_naming_the_file(tmp_path: Path) -> None:
    recordings = []
    rid = "Ses02M_impro03"
    wav = write_wav(tmp_path / f"{rid}.wav", 30.0)
    truncate_wav(wav, 0.5)
    recordings.append((Recording("iemocap", rid, wav, write_avi(tmp_path / f"{rid}.avi", 30.0), "side_by_side"),
                       alternating_units("iemocap", rid, 30.0)))
    rid = "Ses02F_impro04"
    garbage = tmp_path / f"{rid}.avi"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 200)
    recordings.append((Recording("iemocap", rid, write_wav(tmp_path / f"{rid}.wav", 30.0), garbage, "side_by_side"),
                       alternating_units("iemocap", rid, 30.0)))
    rid = "Ses02F_impro05"
    units = alternating_units("iemocap", rid, 30.0)
    recordings.append((Recording("iemocap", rid, write_wav(tmp_path / f"{rid}.wav", 30.0),
                                 write_avi(tmp_path / f"{rid}.avi", 30.0), "side_by_side"), units))
    manifest = manifest_of("iemocap", tmp_path, recordings)
    bad_unit = units[4]
    emo = tmp_path / "EmoEvaluation" / f"{rid}.txt"
    manifest.problems.append(Problem(str(emo), 17, "malformed consensus line", rid, bad_unit.utterance_id))
    sessions = build_sessions(manifest, SESSIONS)
    verdicts = assess_sessions(sessions, manifest, GAPS, min_s=SESSIONS.min_s)

    for s, v in zip(sessions, verdicts, strict=True):
        if s.source_id == "Ses02M_impro03":
            assert v.status == "error"
            assert f"truncated wav {tmp_path / 'Ses02M_impro03.wav'}: header says 30.0 s, data holds 15.0 s" in v.reason
        elif s.source_id == "Ses02F_impro04":
            assert v.status == "error"
            assert f"undecodable video {garbage}" in v.reason
        elif bad_unit.utterance_id in s.utterance_ids:
            assert v.status == "error" and f"{emo}:17: malformed consensus line" in v.reason
        else:
            assert v.status == "kept", v.reason
    # A recording-level problem (e.g. a missing transcript) makes all its sessions errors.
    manifest.problems.append(Problem(str(tmp_path / "transcriptions" / f"{rid}.txt"), None, "missing transcription", rid))
    verdicts = assess_sessions(sessions, manifest, GAPS, min_s=SESSIONS.min_s)
    assert all(v.status == "error" for s, v in zip(sessions, verdicts, strict=True) if s.source_id == rid)


def test_longest_gap_merges_touching_stretches_and_counts_missing_tail() -> None:
    timeline = Timeline((Gap(1.0, 2.0, "black"), Gap(2.0, 3.5, "frozen"), Gap(6.0, 6.5, "black")), end_s=9.0)
    gap = timeline.longest_gap(0.0, 10.0)
    assert gap == Gap(1.0, 3.5, "frozen")
    tail = timeline.longest_gap(5.0, 12.0)
    assert tail == Gap(9.0, 12.0, "missing")
    assert timeline.longest_gap(4.0, 5.5) is None
    assert timeline.longest_gap(3.0, 4.0) == Gap(3.0, 3.5, "frozen")


def test_text_timeline_uses_every_speaker_and_spans_when_unaligned() -> None:
    units = alternating_units("iemocap", "Ses05F_impro01", 20.0, holes=[(8.0, 12.0)])
    unaligned = Utterance("iemocap", "Ses05F_impro01_FXX0", "Ses05F_impro01", "S_F", 9.0, 11.5, "",  # type: ignore[arg-type]
                          annotated=False, word_timing="utterance")
    hole = text_timeline(units).longest_gap(0.0, 20.0)
    assert hole is not None and hole.duration_s > 4.0
    covered = text_timeline([*units, unaligned]).longest_gap(0.0, 20.0)
    assert covered is not None and covered.duration_s < hole.duration_s - 2.0


def test_face_check_counts_faceless_frames_and_dask_executor_works(tmp_path: Path) -> None:
    """Noise frames hold no face: with `face_check` the whole picture is unusable.

    Runs on a Dask executor (`Client.get_executor()`), the build's `--dask-scheduler` path.
    """
    distributed = pytest.importorskip("distributed")
    rid = "faceless001"
    units = alternating_units("mosei", rid, 20.0, speakers=(("mosei_f", "full"),), pause_s=0.2)
    recording = Recording("mosei", rid, write_wav(tmp_path / "a.wav", 20.0), write_avi(tmp_path / "v.avi", 20.0, side_by_side=False), "single")
    manifest = manifest_of("mosei", tmp_path, [(recording, units)])
    sessions = build_sessions(manifest, SESSIONS)
    with distributed.Client(processes=False, n_workers=1, dashboard_address=None) as client:
        verdicts = assess_sessions(sessions, manifest, GapsConfig(face_check=True), min_s=SESSIONS.min_s, executor=client.get_executor())
    assert verdicts and all(v.status == "gap" and "(no_face)" in v.reason for v in verdicts)
    plain = assess_sessions(sessions, manifest, GAPS, min_s=SESSIONS.min_s)
    assert all(v.status in ("kept", "short") for v in plain), [v.reason for v in plain]


def test_every_reader_problem_reaches_the_sessions_it_concerns(tmp_path: Path) -> None:
    """A unit's problem hits its session; an unlabelled unit's, the windows around it; an unknown unit's, the recording."""
    rid = "Ses01F_impro01"
    units = alternating_units("iemocap", rid, 60.0)
    fragment = replace(units[11], utterance_id=f"{rid}_MXX0", annotated=False)  # inside S_F's third window
    units[11] = fragment
    recording = Recording("iemocap", rid, None, None, "side_by_side")
    manifest = manifest_of("iemocap", tmp_path, [(recording, units)])
    sessions = build_sessions(manifest, SESSIONS)
    own = units[2].utterance_id
    manifest.problems += [
        Problem("t.txt", 3, "bad line", rid, own),
        Problem("t.txt", 6, "bad fragment", rid, fragment.utterance_id),
        Problem("e.txt", 9, "bad block of an untranscribed unit", rid, f"{rid}_F099"),
        Problem("corpus.csd", None, "a file of no recording"),
    ]
    hit = session_problems(sessions, manifest)
    reasons = {s.session_id: {p.reason for p in problems} for s, problems in zip(sessions, hit, strict=True)}
    around = {s.session_id for s in sessions if s.start_s < fragment.end_s and fragment.start_s < s.end_s}
    assert around and all(fragment.utterance_id not in s.utterance_ids for s in sessions)
    for session in sessions:
        expected = {"bad block of an untranscribed unit"}
        expected |= {"bad line"} if own in session.utterance_ids else set()
        expected |= {"bad fragment"} if session.session_id in around else set()
        assert reasons[session.session_id] == expected, session.session_id
