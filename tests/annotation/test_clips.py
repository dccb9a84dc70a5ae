"""Clips for annotators: browser-playable MP4 of the speaker, idempotent, transcripts with turns."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from edu_affect_data.annotation.clips import (
    ClipError,
    clip_problem,
    clip_spec,
    format_transcript,
    make_clips,
    probe_clip,
)
from edu_affect_data.annotation.options import ClipConfig
from tests.annotation.small_corpus import SmallCorpus

CLIP = ClipConfig(height=96, fps=12.5, crf=30)


@pytest.fixture(scope="module")
def kept(small_corpus: SmallCorpus) -> list[dict]:
    rows = pq.read_table(small_corpus.sessions).to_pylist()
    return [r for r in rows if r["status"] == "kept"][:2] + [r for r in rows if r["corpus"] == "mosei"][:1]


def test_clips_are_h264_aac_of_the_session_window(kept: list[dict], tmp_path: Path) -> None:
    results = make_clips(kept, tmp_path, CLIP)
    assert [r.session_id for r in results] == [s["session_id"] for s in kept]
    for session, result in zip(kept, results, strict=True):
        probe = probe_clip(result.path)
        assert probe is not None and probe.video is not None and probe.audio is not None
        assert (probe.video.codec, probe.audio.codec, probe.video.height, probe.video.fps) == ("h264", "aac", 96, 12.5)
        assert probe.duration_s == pytest.approx(session["end_s"] - session["start_s"], abs=0.15)
        head = result.path.read_bytes()[:4096]
        assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))
    widths = {s["video_region"]: probe_clip(r.path).video.width for s, r in zip(kept, results, strict=True)}  # type: ignore[union-attr]
    # 320x120 side by side -> one 160x120 half scaled to 96 high (128 wide); 160x120 full -> 128 wide too.
    assert widths["right"] == widths["left"] == 128 and widths["full"] == 128


def test_valid_clips_are_kept_and_broken_ones_redone(kept: list[dict], tmp_path: Path) -> None:
    first = make_clips(kept, tmp_path, CLIP)
    stamps = {r.session_id: r.path.stat().st_mtime_ns for r in first}
    first[0].path.write_bytes(b"not a video")
    second = make_clips(kept, tmp_path, CLIP)
    assert [r.made for r in second] == [True, False, False]
    assert all(stamps[r.session_id] == r.path.stat().st_mtime_ns for r in second[1:])
    assert probe_clip(second[0].path) is not None
    third = make_clips(kept, tmp_path, ClipConfig(height=72, fps=12.5, crf=30))
    assert all(r.made for r in third)  # a new height outdates every clip


def test_clip_problem_names_what_is_off(kept: list[dict], tmp_path: Path) -> None:
    [result] = make_clips(kept[:1], tmp_path, CLIP)
    spec = clip_spec(kept[0], tmp_path, CLIP)
    probe = probe_clip(result.path)
    assert clip_problem(spec, probe) is None
    longer = clip_spec({**kept[0], "end_s": kept[0]["end_s"] + 1.0}, tmp_path, CLIP)
    assert "duration" in (clip_problem(longer, probe) or "")
    assert clip_problem(spec, None) == "does not open as a media file"


def test_a_window_past_the_media_end_is_an_error_naming_the_session(kept: list[dict], tmp_path: Path) -> None:
    late = {**kept[0], "start_s": 10.0, "end_s": 20.0}
    with pytest.raises(ClipError, match=kept[0]["session_id"]):
        make_clips([late], tmp_path, CLIP)
    assert not list((tmp_path / "clips").glob("*.mp4"))


def test_an_unsafe_session_id_is_encoded_inside_the_clips_folder(kept: list[dict], tmp_path: Path) -> None:
    [result] = make_clips([{**kept[0], "session_id": "../escape"}], tmp_path, CLIP)
    assert result.path == tmp_path / "clips" / "%2E.%2Fescape.mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]  # nothing written beside it


def test_transcript_lists_both_speakers_from_the_clip_start(kept: list[dict], tmp_path: Path) -> None:
    text = format_transcript(
        [
            {"speaker_id": "Ses01_F", "start_s": 13.0, "end_s": 14.0, "text": "and  then?"},
            {"speaker_id": "Ses01_M", "start_s": 11.5, "end_s": 12.5, "text": "it stops"},
        ],
        start_s=10.0,
        speaker_id="Ses01_M",
    )
    assert text.splitlines() == ["[00:01.5] * Ses01_M: it stops", "[00:03.0]   Ses01_F: and then?"]
    make_clips(kept[:1], tmp_path, CLIP)
    assert (tmp_path / "clips" / f"{kept[0]['session_id']}.txt").read_text().startswith("[00:00.0] * ")
