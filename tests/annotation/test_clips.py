"""Clips for annotators: browser-playable MP4 of the speaker, idempotent, transcripts with turns."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from edu_affect_data.annotation.clips import (
    ClipError,
    clip_problem,
    clip_shape,
    clip_spec,
    ffmpeg_command,
    format_transcript,
    make_clips,
    make_kept_clips,
    probe_clip,
)
from edu_affect_data.annotation.options import ClipConfig
from edu_affect_data.annotation.tasks import session_task
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.parquet import write_table
from tests.annotation.small_corpus import SmallCorpus
from tests.core.test_manifest_streaming import damage_columns

#: Re-encoded: a height and a rate the proxies (120 px, 29.97 / 30 fps) do not have.
CLIP = ClipConfig(height=96, fps=12.5, crf=30)
#: The default: the proxy's own frames, by stream copy.
COPY = ClipConfig()


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


def test_kept_clips_from_the_build_read_only_the_clip_columns(small_corpus: SmallCorpus, tmp_path: Path) -> None:
    """`make_kept_clips` streams the sessions table (issue 24, item 6): the same clips and transcripts
    as `make_clips` on the kept rows, from a table whose other columns cannot be decoded."""
    rows = pq.read_table(small_corpus.sessions).to_pylist()
    kept = [r for r in rows if r["status"] == "kept"]
    paths = BuildPaths(tmp_path / "build")
    paths.sessions.parent.mkdir(parents=True)
    write_table(pq.read_table(small_corpus.sessions), paths.sessions)  # with page checksums
    damage_columns(paths.sessions, ("words", "text", "utterance_ids", "source_labels", "video_path", "custom"))
    streamed = make_kept_clips(paths, tmp_path / "streamed", CLIP)
    whole = make_clips(kept, tmp_path / "whole", CLIP)
    assert len(kept) < len(rows) and [r.session_id for r in streamed] == [r.session_id for r in whole]
    for one, other in zip(streamed, whole, strict=True):
        assert one.path.with_suffix(".txt").read_text() == other.path.with_suffix(".txt").read_text()
        assert replace(probe_clip(one.path), path=other.path) == probe_clip(other.path)  # type: ignore[type-var]
    mosei = make_kept_clips(paths, tmp_path / "streamed", CLIP, corpus="mosei")
    assert [r.session_id for r in mosei] == [r["session_id"] for r in kept if r["corpus"] == "mosei"]
    assert not any(r.made for r in mosei)  # already cut above


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


@pytest.mark.parametrize("clip", [CLIP, COPY], ids=["re-encoded", "copied"])
def test_a_window_past_the_media_end_is_an_error_naming_the_session(kept: list[dict], tmp_path: Path, clip: ClipConfig) -> None:
    late = {**kept[0], "start_s": 10.0, "end_s": 20.0}
    with pytest.raises(ClipError, match=kept[0]["session_id"]):
        make_clips([late], tmp_path, clip)
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


def _frames(path: Path, since_s: float = -1.0, until_s: float = float("inf")) -> list[tuple[float, np.ndarray]]:
    """(pts, grey pixels) of every decoded frame of ``path`` with pts in [since_s, until_s)."""
    import av

    with av.open(str(path)) as container:
        return [
            (float(f.pts * f.time_base), f.to_ndarray(format="gray").astype(np.int16))
            for f in container.decode(video=0)
            if since_s <= float(f.pts * f.time_base) < until_s
        ]


def test_by_default_a_clip_is_the_proxy_s_frames_of_the_window_copied(kept: list[dict], tmp_path: Path) -> None:
    results = make_clips(kept, tmp_path, COPY)
    for session, result in zip(kept, results, strict=True):
        spec = clip_spec(session, tmp_path, COPY)
        shape = clip_shape(spec)
        proxy = probe_clip(Path(session["proxy_path"]))
        assert proxy is not None and proxy.video is not None
        assert shape.copy and (shape.height, shape.fps) == (proxy.video.height, proxy.video.nominal_fps)
        probe = probe_clip(result.path)
        assert probe is not None and probe.video is not None and probe.audio is not None
        assert (probe.video.codec, probe.audio.codec, probe.video.height) == ("h264", "aac", 120)
        assert probe.video.nominal_fps == pytest.approx(30000 / 1001 if session["corpus"] == "iemocap" else 30.0)
        assert probe.duration_s == pytest.approx(session["end_s"] - session["start_s"], abs=0.05)
        head = result.path.read_bytes()[:4096]
        assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))
        # The very frames of the proxy whose time falls in the session window, not re-encoded.
        offset = session["start_s"] - session["proxy_start_s"]
        window = _frames(Path(session["proxy_path"]), offset, offset + spec.duration_s)
        copied = _frames(result.path)
        assert len(copied) == len(window) > 0
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(copied, window, strict=True))
        assert [t for t, _ in copied] == pytest.approx([t - offset for t, _ in window], abs=1e-3)


def test_a_proxy_without_frames_at_the_window_s_end_gives_a_clip_of_the_session_s_length(kept: list[dict], tmp_path: Path) -> None:
    """A proxy holds no frames where the video had none; the frame before such a gap used to last
    until the next one and stretch the copied clip past the window (the demo: 18.99 s for 15.71)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    session = dict(next(s for s in kept if s["corpus"] == "mosei"))
    duration = session["end_s"] - session["start_s"]
    offset = session["start_s"] - session["proxy_start_s"]
    gapped = tmp_path / "gapped.mp4"  # the proxy without its frames from 1.5 s before the window's end to 3 s after
    drop = f"noise=drop='between(pts*tb,{offset + duration - 1.5:.3f},{offset + duration + 3:.3f})'"
    subprocess.run([get_ffmpeg_exe(), "-loglevel", "error", "-i", session["proxy_path"], "-map", "0:v", "-c", "copy",
                    "-bsf:v", drop, str(gapped)], check=True)  # fmt: skip
    session["proxy_path"] = str(gapped)
    result = make_clips([session], tmp_path / "media", COPY)[0]
    probe = probe_clip(result.path)
    assert probe is not None and probe.duration_s == pytest.approx(duration, abs=0.05)
    window = _frames(gapped, offset, offset + duration)
    copied = _frames(result.path)
    assert len(copied) == len(window) > 0
    assert [t for t, _ in copied] == pytest.approx([t - offset for t, _ in window], abs=1e-3)


def test_the_copied_clip_has_the_frames_a_re_encode_of_the_window_has(kept: list[dict], tmp_path: Path) -> None:
    """Same count, and its first and last frames are the re-encode's (closer than any neighbour)."""
    [copied] = make_clips(kept[1:2], tmp_path, COPY)
    spec = clip_spec(kept[1], tmp_path, COPY)
    encoded = tmp_path / "encoded.mp4"
    command = ffmpeg_command(spec, encoded, replace(clip_shape(spec), copy=False))
    assert "copy" not in command
    subprocess.run(command, check=True, capture_output=True)
    ours, theirs = [f for _, f in _frames(copied.path)], [f for _, f in _frames(encoded)]
    assert len(ours) == len(theirs)
    for k, neighbour in ((0, 1), (-1, -2)):
        assert np.abs(ours[k] - theirs[k]).mean() < np.abs(ours[k] - theirs[neighbour]).mean()


def test_a_clip_of_another_shape_is_redone_and_the_task_carries_the_clip_s_rate(kept: list[dict], tmp_path: Path) -> None:
    encoded = make_clips(kept, tmp_path, CLIP)
    copied = make_clips(kept, tmp_path, COPY)  # 12.5 fps at 96 px is not the proxy's: all cut again
    assert all(r.made for r in encoded) and all(r.made for r in copied)
    assert not any(r.made for r in make_clips(kept, tmp_path, COPY))  # valid copies are kept
    rates = [
        session_task(s, clip=r.path, transcript="", document_root=tmp_path)["data"]["fps"]
        for s, r in zip(kept, copied, strict=True)
    ]
    assert rates == pytest.approx([30000 / 1001, 30000 / 1001, 30.0])
    again = make_clips(kept, tmp_path, CLIP)
    assert all(r.made for r in again)
    assert session_task(kept[0], clip=again[0].path, transcript="", document_root=tmp_path)["data"]["fps"] == 12.5
