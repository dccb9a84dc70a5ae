"""media.probe on the project's own media: the writers' AVI/MP4/WAV, cut files, broken files, cover art.

The three callers used OpenCV (video pass) and `ffmpeg -i` text (clips, model media input); the
probe must report what they relied on: OpenCV's rate, size and declared frame count, ffmpeg's
codec names and duration, and a failure that names the file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import pytest
from imageio_ffmpeg import get_ffmpeg_exe

from edu_affect_data.media.probe import BrokenMediaError, probe_media
from edu_affect_data.media.video_pass import _stream_facts
from tests.ingest_media import FPS, HEIGHT, WIDTH, write_avi, write_mp4_with_jump, write_wav


def _ffmpeg(*args: str) -> None:
    subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _opencv_facts(path: Path) -> tuple[float, float, int, int]:
    capture = cv2.VideoCapture(str(path))
    try:
        return (capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT),
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))  # fmt: skip
    finally:
        capture.release()


def _cut_in_half(path: Path, out: Path) -> Path:
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def test_video_facts_are_what_opencv_reported(tmp_path: Path) -> None:
    avi = write_avi(tmp_path / "dialog.avi", 5.0)
    jump = write_mp4_with_jump(tmp_path / "jump.mp4", 10.0, jump_at_s=4.0, jump_s=2.0)
    for path in (avi, jump, _cut_in_half(avi, tmp_path / "cut.avi")):
        facts = _stream_facts(path)
        assert facts == _opencv_facts(path), path.name
    found = probe_media(avi)
    assert found.video is not None and found.audio is None
    assert (found.video.codec, found.video.width, found.video.height) == ("mjpeg", 2 * WIDTH, HEIGHT)
    assert (found.video.fps, found.video.frames, found.duration_s) == (FPS, 50, 5.0)
    # 80 frames over 10 s with a 2 s hole: the average rate (8), not the nominal one (10), as OpenCV.
    jumped = probe_media(jump).video
    assert jumped is not None and (jumped.fps, jumped.frames) == (8.0, 80)


def test_a_cut_file_keeps_its_declared_frames_and_loses_duration(tmp_path: Path) -> None:
    avi = write_avi(tmp_path / "dialog.avi", 5.0)
    cut = probe_media(_cut_in_half(avi, tmp_path / "cut.avi"))
    assert cut.video is not None and cut.video.frames == 50  # the header's count: the truncation check's reference
    assert cut.duration_s is not None and cut.duration_s < 3.0


def test_audio_only_files(tmp_path: Path) -> None:
    wav = probe_media(write_wav(tmp_path / "a.wav", 3.0))
    assert wav.video is None and wav.duration_s == 3.0
    assert wav.audio is not None and (wav.audio.codec, wav.audio.sample_rate, wav.audio.channels) == ("pcm_s16le", 16000, 1)
    with pytest.raises(BrokenMediaError, match=r"undecodable video .*a\.wav: no video stream"):
        _stream_facts(tmp_path / "a.wav")


def test_cover_art_is_not_video_and_codecs_are_format_names(tmp_path: Path) -> None:
    mp3, cover = tmp_path / "talk.mp3", tmp_path / "cover.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-t", "2", "-ac", "2", "-c:a", "libmp3lame", str(mp3))
    _ffmpeg("-i", str(mp3), "-f", "lavfi", "-i", "color=c=red:size=64x64:d=1", "-frames:v", "1", "-map", "0:a", "-map", "1:v",
            "-c:a", "copy", "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(cover))  # fmt: skip
    found = probe_media(cover)
    assert found.video is None  # OpenCV took the picture for a 90000-fps video
    assert found.audio is not None and (found.audio.codec, found.audio.sample_rate, found.audio.channels) == ("mp3", 22050, 2)


def test_a_clip_and_a_container_without_a_frame_count(tmp_path: Path) -> None:
    clip, mkv = tmp_path / "clip.mp4", tmp_path / "v.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x96:rate=12.5", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "3",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(clip))  # fmt: skip
    found = probe_media(clip)
    assert found.video is not None and found.audio is not None
    assert (found.video.codec, found.audio.codec, found.video.height, found.video.fps) == ("h264", "aac", 96, 12.5)
    assert found.duration_s == pytest.approx(3.0, abs=0.05)
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=24", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(mkv))
    counted = probe_media(mkv).video
    assert counted is not None and counted.frames == 48  # Matroska declares none: duration x rate, as OpenCV
    assert _stream_facts(mkv) == _opencv_facts(mkv)


@pytest.mark.parametrize(
    ("name", "content"),
    [("garbage.avi", b"RIFF" + bytes(range(256)) * 8), ("empty.mp4", b""), ("notes.txt", b"hello\n")],
)
def test_a_file_that_does_not_open_is_an_error_naming_it(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BrokenMediaError, match=rf"unreadable media {path}: Invalid data") as caught:
        probe_media(path)
    assert (caught.value.kind, caught.value.path) == ("unreadable media", path)
    with pytest.raises(BrokenMediaError, match=rf"undecodable video {path}: Invalid data"):
        _stream_facts(path)


def test_tags_that_are_not_utf8_do_not_stop_the_probe(tmp_path: Path) -> None:
    """A container tag in Latin-1 (or random bytes that parse as one: a synthetic undecodable MOSEI
    video did) is replaced, not raised as UnicodeDecodeError out of the ingest's media pass."""
    path = tmp_path / "latin1.avi"
    subprocess.run([get_ffmpeg_exe().encode(), b"-loglevel", b"error", b"-y", b"-f", b"lavfi", b"-i",
                    b"testsrc2=size=64x48:rate=10:duration=1", b"-metadata", b"title=caf\xe9", b"-c:v", b"mpeg4",
                    str(path).encode()], check=True)  # fmt: skip
    probe = probe_media(path)
    assert probe.video is not None and (probe.video.width, probe.video.height, probe.video.frames) == (64, 48, 10)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(BrokenMediaError, match=r"unreadable media .*nothing\.mp4: No such file"):
        probe_media(tmp_path / "nothing.mp4")
    with pytest.raises(BrokenMediaError, match=r"missing video .*nothing\.mp4: no such file"):
        _stream_facts(tmp_path / "nothing.mp4")


def test_a_riff_header_with_no_stream_opens_with_none(tmp_path: Path) -> None:
    """What the gap tests call a garbage AVI: libavformat opens it and finds no stream."""
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 200)
    found = probe_media(garbage)
    assert (found.video, found.audio, found.duration_s) == (None, None, None)
    with pytest.raises(BrokenMediaError, match=rf"undecodable video {garbage}: no video stream"):
        _stream_facts(garbage)


def test_the_callers_name_the_file_in_their_own_terms(tmp_path: Path) -> None:
    from edu_emotionnet.media_input import MediaInputError, probe

    from edu_affect_data.annotation.clips import ClipSpec, clip_problem, probe_clip

    garbage = tmp_path / "upload.mp4"
    garbage.write_bytes(b"not a video")
    with pytest.raises(MediaInputError, match=rf"{garbage}: not a media file ffmpeg can read \(Invalid data"):
        probe(garbage)
    wav = write_wav(tmp_path / "a.wav", 2.0)
    assert probe(wav).audio is not None and probe(wav).video is None
    spec = ClipSpec("s1", "p.mp4", 0.0, str(wav), 0.0, 2.0, str(tmp_path / "s1.mp4"), 96, 12.5, 23)
    assert probe_clip(garbage) is None and clip_problem(spec, probe_clip(garbage)) == "does not open as a media file"
    assert clip_problem(spec, probe_clip(wav)) == "has no video stream"
