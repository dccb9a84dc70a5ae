"""CMU-MOSEI reader on a hand-built miniature (`conftest.mosei_root`), one quirk per test."""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import pytest

from edu_affect_data.corpora.common import CorpusLayoutError
from edu_affect_data.corpora.mosei import SpeakerMapError, read_mosei, read_speaker_map
from edu_affect_data.corpora.records import CorpusManifest, Utterance, Word

from .conftest import LABELS_ONLY


def _by_id(manifest: CorpusManifest) -> dict[str, Utterance]:
    return {u.utterance_id: u for u in manifest.utterances}


@pytest.fixture
def manifest(mosei_root: Path) -> CorpusManifest:
    return read_mosei(mosei_root)


def test_video_ids_are_never_split(manifest: CorpusManifest) -> None:
    assert sorted(manifest.recordings) == sorted(
        ["-abc_DEF-12", "123456", "endsWith_u_", "x_y___z-123", LABELS_ONLY]
    )
    ids = {u.utterance_id: u.recording_id for u in manifest.utterances}
    assert ids["-abc_DEF-12_2"] == "-abc_DEF-12"
    assert ids["123456_1"] == "123456"
    assert ids["endsWith_u__0"] == "endsWith_u_"
    assert ids["x_y___z-123_0"] == "x_y___z-123"


def test_recording_paths_and_layout(manifest: CorpusManifest, mosei_root: Path) -> None:
    rec = manifest.recordings["-abc_DEF-12"]
    raw = mosei_root / "Raw"
    assert rec.audio_path == raw / "Audio/Full/WAV_16000/-abc_DEF-12.wav"
    assert rec.video_path == raw / "Videos/Full/Combined/-abc_DEF-12.mp4"
    assert rec.transcript_path == raw / "Transcript/Segmented/Combined/-abc_DEF-12.txt"
    assert rec.video_layout == "single"
    assert rec.label_paths == (
        mosei_root / "CMU_MOSEI_Labels.csd",
        mosei_root / "CMU_MOSEI_TimestampedWords.csd",
    )


def test_text_may_contain_triple_underscore(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    assert utts["-abc_DEF-12_1"].text == "why does it print ___ twice"
    assert (utts["endsWith_u__0"].start_s, utts["endsWith_u__0"].end_s) == (0.5, 2.5)
    assert utts["x_y___z-123_0"].text == "three underscores"


def test_default_speaker_is_one_per_video(manifest: CorpusManifest) -> None:
    assert {u.speaker_id for u in manifest.utterances if u.recording_id == "123456"} == {
        "mosei_123456"
    }
    assert all(u.video_region == "full" and u.annotated for u in manifest.utterances)


def test_unsorted_label_intervals_match_segments_by_overlap(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    first, last = utts["-abc_DEF-12_0"].labels, utts["-abc_DEF-12_2"].labels
    assert first is not None and last is not None
    assert first.scores["sentiment"] == -2.0 and first.scores["sad"] == 1.0
    assert last.scores == {
        "sentiment": 1.0,
        "happy": 2.0,
        "sad": 0.0,
        "anger": 0.0,
        "surprise": 0.0,
        "disgust": 0.0,
        "fear": 0.0,
    }


def test_out_of_range_value_is_kept_and_counted(manifest: CorpusManifest) -> None:
    anger = _by_id(manifest)["-abc_DEF-12_0"].labels.scores["anger"]  # type: ignore[union-attr,index]
    assert anger == pytest.approx(3.3333)
    assert manifest.skipped["mosei_label_values_out_of_range_kept"] == 1


def test_sdk_aligned_keys_are_accepted(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    assert utts["123456_0"].labels.scores["surprise"] == 1.0  # type: ignore[union-attr,index]
    assert utts["123456_1"].labels.scores["happy"] == 1.0  # type: ignore[union-attr,index]
    assert [w.text for w in utts["123456_0"].words] == ["okay", "let", "me", "try"]


def test_sp_is_silence_not_a_word(manifest: CorpusManifest) -> None:
    utts = _by_id(manifest)
    first = utts["-abc_DEF-12_0"]
    assert first.word_timing == "aligned"
    assert first.words[0] == Word("so", 0.3, 0.6)
    assert [w.text for w in first.words] == ["so", "the", "loop", "never", "stops"]
    assert [w.text for w in utts["-abc_DEF-12_1"].words] == ["why", "does", "it"]


def test_segment_without_words_spreads_its_text(manifest: CorpusManifest) -> None:
    utt = _by_id(manifest)["-abc_DEF-12_2"]
    assert utt.word_timing == "utterance"
    assert utt.words == (Word("ugh", 8.2, 9.6), Word("whatever", 9.6, 11.0))


def test_missing_transcript_rebuilds_segments_from_labels(
    manifest: CorpusManifest, mosei_root: Path
) -> None:
    rebuilt = [u for u in manifest.utterances if u.recording_id == LABELS_ONLY]
    assert [(u.utterance_id, u.start_s, u.end_s, u.text) for u in rebuilt] == [
        (f"{LABELS_ONLY}_0", 0.0, 2.0, ""),
        (f"{LABELS_ONLY}_1", 2.0, 5.0, ""),
    ]
    assert rebuilt[0].labels.scores["happy"] == 1.0  # type: ignore[union-attr,index]
    [problem] = manifest.problems
    assert problem.path == str(mosei_root / f"Raw/Transcript/Segmented/Combined/{LABELS_ONLY}.txt")
    assert problem.recording_id == LABELS_ONLY and problem.utterance_id is None
    assert "missing segmented transcript" in problem.reason


def test_utterances_sorted_by_recording_then_start(manifest: CorpusManifest) -> None:
    keys = [(u.recording_id, u.start_s) for u in manifest.utterances]
    assert keys == sorted(keys)
    assert len(keys) == 9


def test_speaker_map_merges_videos(mosei_root: Path, tmp_path: Path) -> None:
    speakers = tmp_path / "speakers.csv"
    speakers.write_text(
        "video_id,speaker_id\n-abc_DEF-12,person_1\n123456,person_1\nnot_in_corpus,p9\n"
    )
    manifest = read_mosei(mosei_root, speaker_map=speakers)
    by_video = {u.recording_id: u.speaker_id for u in manifest.utterances}
    assert by_video["-abc_DEF-12"] == by_video["123456"] == "person_1"
    assert by_video["endsWith_u_"] == "mosei_endsWith_u_"
    assert manifest.skipped["mosei_speaker_map_rows_for_unknown_videos"] == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("video_id,speaker_id\n-abc_DEF-12,p1\n123456\n", 3),
        ("-abc_DEF-12,p1,extra\n", 1),
        ("-abc_DEF-12,p1\n\n-abc_DEF-12,p2\n", 3),
        ("-abc_DEF-12,\n", 1),
    ],
)
def test_malformed_speaker_map_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "speakers.csv"
    path.write_text(text)
    with pytest.raises(SpeakerMapError, match=f"speakers.csv:{line}:"):
        read_speaker_map(path)


def test_bad_transcript_line_is_reported_with_line_number(mosei_root: Path) -> None:
    path = mosei_root / "Raw/Transcript/Segmented/Combined/123456.txt"
    path.write_text(
        path.read_text() + "123456___2___7.0___oops___text\n123456___0___9.0___9.5___again\n"
    )
    manifest = read_mosei(mosei_root)
    bad = [p for p in manifest.problems if p.path == str(path)]
    assert [p.line for p in bad] == [3, 4]
    assert "not a number" in bad[0].reason and "listed twice" in bad[1].reason


def test_missing_media_is_a_recording_problem(mosei_root: Path) -> None:
    (mosei_root / "Raw/Videos/Full/Combined/123456.mp4").unlink()
    manifest = read_mosei(mosei_root)
    assert manifest.recordings["123456"].video_path is None
    assert [p.reason for p in manifest.problems if p.recording_id == "123456"] == [
        "missing full video"
    ]


def test_csd_files_one_level_down(mosei_root: Path) -> None:
    (mosei_root / "Labels").mkdir()
    for name in ("CMU_MOSEI_Labels.csd", "CMU_MOSEI_TimestampedWords.csd"):
        shutil.move(mosei_root / name, mosei_root / "Labels" / name)
    manifest = read_mosei(mosei_root)
    assert _by_id(manifest)["123456_0"].word_timing == "aligned"
    assert (
        manifest.recordings["123456"].label_paths[0] == mosei_root / "Labels/CMU_MOSEI_Labels.csd"
    )


def test_parent_of_cmu_mosei_is_accepted(mosei_root: Path, manifest: CorpusManifest) -> None:
    (mosei_root / "Raw").rename(mosei_root.parent / "Raw")
    for name in ("CMU_MOSEI_Labels.csd", "CMU_MOSEI_TimestampedWords.csd"):
        shutil.move(mosei_root / name, mosei_root.parent / name)
    moved = read_mosei(mosei_root.parent)
    assert [u.utterance_id for u in moved.utterances] == [
        u.utterance_id for u in manifest.utterances
    ]


def test_missing_labels_csd_is_reported(mosei_root: Path) -> None:
    (mosei_root / "CMU_MOSEI_Labels.csd").unlink()
    manifest = read_mosei(mosei_root)
    assert all(u.labels is None for u in manifest.utterances)
    assert any(
        "labels CSD not found" in p.reason and p.recording_id is None for p in manifest.problems
    )


def test_process_pool_gives_the_same_manifest(mosei_root: Path, manifest: CorpusManifest) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert read_mosei(mosei_root, executor=pool) == manifest


def test_not_a_mosei_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusLayoutError, match="not a CMU-MOSEI folder"):
        read_mosei(tmp_path)


def test_label_columns_metadata_is_checked(mosei_root: Path) -> None:
    path = mosei_root / "CMU_MOSEI_Labels.csd"
    with h5py.File(path, "a") as handle:
        meta = handle["All Labels/metadata"]
        del meta["dimension names"]
        meta.create_dataset(
            "dimension names", data='["happy", "sentiment"]', dtype=h5py.string_dtype()
        )
    [problem] = [p for p in read_mosei(mosei_root).problems if p.path == str(path)]
    assert "dimension names" in problem.reason and problem.recording_id is None
