"""IEMOCAP reader on the hand-written miniature in `fixtures/iemocap` (one quirk per test)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from edu_affect_data.corpora.common import CorpusLayoutError
from edu_affect_data.corpora.iemocap import read_iemocap, speaker_of
from edu_affect_data.corpora.records import CorpusManifest, Utterance, Word


def _by_id(manifest: CorpusManifest) -> dict[str, Utterance]:
    return {u.utterance_id: u for u in manifest.utterances}


@pytest.fixture
def manifest(iemocap_root: Path) -> CorpusManifest:
    return read_iemocap(iemocap_root)


@pytest.mark.parametrize(
    ("utterance_id", "dialog", "speaker", "region", "annotated"),
    [
        (
            "Ses02M_script03_2_F017",
            "Ses02M_script03_2",
            "Ses02_F",
            "left",
            True,
        ),  # prefix M, speaker F
        ("Ses01F_impro01_M003", "Ses01F_impro01", "Ses01_M", "right", True),  # prefix F, speaker M
        ("Ses05M_script01_1b_F000", "Ses05M_script01_1b", "Ses05_F", "left", True),
        ("Ses03M_impro05a_M011", "Ses03M_impro05a", "Ses03_M", "right", True),
        ("Ses01F_script01_1_MXX3", "Ses01F_script01_1", "Ses01_M", "right", False),
        ("Ses04M_impro02_FXX0", "Ses04M_impro02", "Ses04_F", "left", False),
        ("Ses04M_impro02_XX1", "Ses04M_impro02", "Ses04_unknown", "full", False),
    ],
)
def test_speaker_is_session_plus_letter_of_last_token(
    utterance_id: str, dialog: str, speaker: str, region: str, annotated: bool
) -> None:
    found = speaker_of(utterance_id, dialog, dialog[:5])
    assert found is not None
    assert (found.speaker_id, found.region, found.annotated) == (speaker, region, annotated)


def test_unreadable_speaker_token_is_none() -> None:
    assert speaker_of("Ses01F_impro01_Q001", "Ses01F_impro01", "Ses01") is None


def test_recordings_and_media_paths(manifest: CorpusManifest, iemocap_root: Path) -> None:
    assert sorted(manifest.recordings) == ["Ses02M_script03_2", "Ses03F_impro01", "Ses03M_impro05a"]
    rec = manifest.recordings["Ses02M_script03_2"]
    dialog = iemocap_root / "Session2" / "dialog"
    assert rec.audio_path == dialog / "wav" / "Ses02M_script03_2.wav"
    assert rec.video_path == dialog / "avi" / "DivX" / "Ses02M_script03_2.avi"
    assert rec.video_layout == "side_by_side"
    assert rec.transcript_path == dialog / "transcriptions" / "Ses02M_script03_2.txt"
    assert rec.label_paths == (dialog / "EmoEvaluation" / "Ses02M_script03_2.txt",)


def test_speakers_follow_last_token_not_dialog_prefix(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    assert utts["Ses02M_script03_2_F000"].speaker_id == "Ses02_F"
    assert utts["Ses02M_script03_2_F000"].video_region == "left"
    assert utts["Ses02M_script03_2_M000"].speaker_id == "Ses02_M"
    assert utts["Ses02M_script03_2_M000"].video_region == "right"


def test_tags_are_removed_from_text(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    assert utts["Ses02M_script03_2_F000"].text == "Hello there."
    assert utts["Ses02M_script03_2_M001"].text == "Oh right."


def test_line_without_times_is_counted_not_read(manifest: CorpusManifest) -> None:
    assert manifest.skipped["iemocap_transcript_lines_without_times"] == 1
    assert manifest.skipped["iemocap_hidden_files"] == 1
    assert all(u.utterance_id.startswith("Ses0") for u in manifest.utterances)


def test_x_fragment_is_speech_but_not_annotated(manifest: CorpusManifest) -> None:
    fragment = _by_id(manifest)["Ses02M_script03_2_MXX0"]
    assert fragment.annotated is False
    assert fragment.speaker_id == "Ses02_M"
    assert fragment.labels is None
    assert (fragment.start_s, fragment.end_s) == (6.2, 6.9)
    assert all(u.annotated for u in manifest.utterances if "XX" not in u.utterance_id)


def test_wdseg_words_in_recording_time(manifest: CorpusManifest) -> None:
    utt = _by_id(manifest)["Ses02M_script03_2_F000"]  # starts at 1.0 s
    assert utt.word_timing == "aligned"
    assert utt.words == (Word("HELLO", 1.12, 1.48), Word("THERE", 1.61, 2.11))
    m000 = _by_id(manifest)["Ses02M_script03_2_M000"]
    assert [w.text for w in m000.words] == ["WHY", "WOULD", "THE", "LOOP", "STOP", "THERE"]
    assert m000.words[-1] == Word("THERE", 5.4, 5.8)


def test_sphinx_fillers_are_not_words(manifest: CorpusManifest) -> None:
    assert [w.text for w in _by_id(manifest)["Ses02M_script03_2_M001"].words] == ["OH", "RIGHT"]


def test_missing_wdseg_falls_back_to_utterance_span(manifest: CorpusManifest) -> None:
    utt = _by_id(manifest)["Ses02M_script03_2_F001"]
    assert utt.word_timing == "utterance"
    assert [w.text for w in utt.words] == ["Because", "it", "never", "checks", "the", "index."]
    assert utt.words[0].start_s == utt.start_s and utt.words[-1].end_s == utt.end_s
    assert all(a.end_s == b.start_s for a, b in zip(utt.words, utt.words[1:], strict=False))


def test_labels_from_emo_evaluation(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    f000 = utts["Ses02M_script03_2_F000"].labels
    assert f000 is not None
    assert f000.category == "fru"
    assert f000.scores == {"valence": 2.0, "activation": 3.5, "dominance": 3.0}
    # C-E1 one label, C-E2 empty, C-E3 two labels; the C-F1 self-evaluation is not an evaluator.
    assert f000.custom["evaluator_labels"] == ("Frustration", "Frustration", "Anger")
    f001 = utts["Ses02M_script03_2_F001"].labels
    assert f001 is not None and f001.custom["evaluator_labels"] == ("Neutral", "Neutral")  # `Neutral state`
    assert utts["Ses02M_script03_2_M000"].labels.category == "xxx"  # type: ignore[union-attr]


def test_utterances_sorted_by_recording_then_start(manifest: CorpusManifest) -> None:
    keys = [(u.recording_id, u.start_s) for u in manifest.utterances]
    assert keys == sorted(keys)
    assert [u.utterance_id for u in manifest.utterances][:5] == [
        "Ses02M_script03_2_F000",
        "Ses02M_script03_2_M000",
        "Ses02M_script03_2_MXX0",
        "Ses02M_script03_2_F001",
        "Ses02M_script03_2_M001",
    ]


def test_malformed_emo_line_reported_with_line_and_utterance(manifest: CorpusManifest) -> None:
    emo = [p for p in manifest.problems if p.path.endswith("EmoEvaluation/Ses03M_impro05a.txt")]
    assert len(emo) == 1
    assert emo[0].line == 9
    assert emo[0].utterance_id == "Ses03M_impro05a_F001"
    assert emo[0].recording_id == "Ses03M_impro05a"
    assert "val 2; act; dom  3;" in emo[0].reason
    utt = _by_id(manifest)["Ses03M_impro05a_F001"]
    assert utt.text == "Ugh."  # keeps its transcript
    assert utt.labels is not None and utt.labels.category == "ang"
    assert utt.labels.custom["evaluator_labels"] == (
        "Anger",
        "Anger",
        "Frustration",
    )  # lines around it still read


def test_labelled_but_untranscribed_utterance_is_counted(manifest: CorpusManifest) -> None:
    assert "Ses03M_impro05a_F002" not in _by_id(manifest)
    assert manifest.skipped["iemocap_labelled_utterances_not_in_transcript"] == 1


def test_missing_transcription_recovers_utterances_from_emo_evaluation(
    manifest: CorpusManifest,
) -> None:
    recovered = [u for u in manifest.utterances if u.recording_id == "Ses03F_impro01"]
    assert [u.utterance_id for u in recovered] == [
        "Ses03F_impro01_F000",
        "Ses03F_impro01_M000",
        "Ses03F_impro01_F001",
    ]
    assert all(u.text == "" and u.words == () for u in recovered)
    assert recovered[1].speaker_id == "Ses03_M" and recovered[1].labels.category == "hap"  # type: ignore[union-attr]
    missing = [p for p in manifest.problems if p.recording_id == "Ses03F_impro01"]
    reasons = {Path(p.path).name: p for p in missing}
    assert "missing transcription" in reasons["Ses03F_impro01.txt"].reason
    assert reasons["Ses03F_impro01.txt"].utterance_id is None  # recording level
    assert "missing dialog video" in reasons["Ses03F_impro01.avi"].reason
    assert manifest.recordings["Ses03F_impro01"].video_path is None


def test_no_other_problems(manifest: CorpusManifest) -> None:
    assert len(manifest.problems) == 3


def test_bad_transcript_line_is_reported_with_line_number(iemocap_root: Path) -> None:
    path = iemocap_root / "Session2/dialog/transcriptions/Ses02M_script03_2.txt"
    lines = path.read_text().splitlines()
    lines[1] = "Ses02M_script03_2_M000 [004.0000-0x6.0000]: Why would the loop stop there?"
    path.write_text("\n".join(lines) + "\n")
    manifest = read_iemocap(iemocap_root)
    bad = [p for p in manifest.problems if p.path == str(path)]
    assert [(p.line, p.utterance_id) for p in bad] == [(2, "Ses02M_script03_2_M000")]
    assert "placed as Ses02M_script03_2_M000 at 4-6 s" in bad[0].reason
    unit = _by_id(manifest)["Ses02M_script03_2_M000"]  # never dropped: times from its EmoEvaluation block
    assert (unit.start_s, unit.end_s, unit.speaker_id) == (4.0, 6.0, "Ses02_M")
    assert unit.text == "Why would the loop stop there?"


def test_malformed_wdseg_is_reported_and_falls_back(iemocap_root: Path) -> None:
    path = (
        iemocap_root
        / "Session2/sentences/ForcedAlignment/Ses02M_script03_2/Ses02M_script03_2_F000.wdseg"
    )
    path.write_text(path.read_text().replace("   47 ", "   4x "))
    manifest = read_iemocap(iemocap_root)
    bad = [p for p in manifest.problems if p.path == str(path)]
    assert [(p.line, p.utterance_id) for p in bad] == [(3, "Ses02M_script03_2_F000")]
    assert _by_id(manifest)["Ses02M_script03_2_F000"].word_timing == "utterance"


def test_process_pool_gives_the_same_manifest(iemocap_root: Path, manifest: CorpusManifest) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = read_iemocap(iemocap_root, executor=pool)
    assert parallel == manifest


def test_not_an_iemocap_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusLayoutError, match="no Session"):
        read_iemocap(tmp_path)
