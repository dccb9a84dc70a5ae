"""One way to ask a media file its duration and its streams: libavformat's own probe, through PyAV.

Three callers used to ask three ways: the annotation clips and the model's media input parsed
the text `ffmpeg -i` writes to stderr (a format ffmpeg does not promise, durations rounded to
10 ms), and the video pass asked OpenCV (which takes a cover picture for a video and says
nothing about audio). PyAV asks the same libavformat in process, returns numbers rather than
text, and is already what reads the proxies (`sampling`).

What a probe reports, chosen to keep what each caller relied on:

- ``duration_s``: the container's duration (its longest stream), None when it declares none.
- ``video``: the first video stream that is not an attached picture (the cover art of an MP3 or
  M4A is not video), with its codec, size, frame rate and frame count. The rate is the average
  one (frames over duration: what `ffmpeg -i` prints as fps and OpenCV reports), the nominal
  rate where the container has no average. The frame count is the one the container declares;
  where it declares none (Matroska) it is duration x rate, rounded, as OpenCV estimates it; None
  when neither is known. A cut file keeps its header, so this is the count the file *should*
  hold: the truncation check compares the decoded frames with it. ``nominal_fps`` is the rate the
  timestamps step by (libavformat's ``r_frame_rate``): the same as the average on a constant-rate
  stream, still the source's rate where frames are missing (a stream-copied clip of a proxy with
  dropped frames), so it is the rate a player steps frames by.
- ``audio``: the first audio stream, with its codec, sample rate and channels.

Codecs are named as ffmpeg names the format (``h264``, ``aac``, ``mp3``), not by the decoder
that would read it (``mp3float``). A file that does not open raises `BrokenMediaError` (the one
error of the media layer for a file that cannot be used), naming the file and why; one that opens with no usable stream is a probe with ``video`` and ``audio``
None, and each caller decides what that means for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

#: `BrokenMediaError.kind` of a file the probe cannot open.
UNREADABLE = "unreadable media"


class BrokenMediaError(Exception):
    """A media file that cannot be used at all (truncated, undecodable, absent).

    `kind` is the short cause for reports ("truncated wav"); the message names the file. The
    probe raises it with kind "unreadable media"; callers that know what the file was meant to
    be (the video pass: "undecodable video") raise their own kind with its ``detail``.
    """

    def __init__(self, kind: str, path: Path, detail: str) -> None:
        super().__init__(f"{kind} {path}: {detail}")
        self.kind = kind
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int
    height: int
    #: Average frames per second (the nominal rate where there is no average); 0 when unknown.
    fps: float
    #: Frames the container declares (else duration x fps, rounded); None when unknown.
    frames: int | None
    #: The rate timestamps step by (``r_frame_rate``; the average where unknown); 0 when unknown.
    nominal_fps: float = 0.0


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaProbe:
    """What a media file says about itself, without decoding it."""

    path: Path
    duration_s: float | None
    video: VideoStream | None
    audio: AudioStream | None


def probe_media(path: Path) -> MediaProbe:
    """The duration and the first video and audio streams of ``path``; `BrokenMediaError` when it does not open."""
    import av

    path = Path(path)
    try:
        # Tags are not what a probe is for: a title in Latin-1 (or garbage that parses as a tag)
        # raised UnicodeDecodeError out of the ingest's pool instead of a verdict on the streams.
        container = av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, OSError) as exc:
        raise BrokenMediaError(UNREADABLE, path, getattr(exc, "strerror", None) or str(exc)) from exc
    with container:
        duration_s = container.duration / 1_000_000 if container.duration is not None else None
        video = next((_video(s, duration_s) for s in container.streams.video if not _attached_picture(s)), None)
        audio = next((_audio(s) for s in container.streams.audio), None)
    return MediaProbe(path, duration_s, video, audio)


def _attached_picture(stream: Any) -> bool:
    import av

    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _video(stream: Any, duration_s: float | None) -> VideoStream:
    rate = _rate(stream.average_rate) or _rate(stream.base_rate) or _rate(stream.guessed_rate)
    frames: int | None = int(stream.frames) if stream.frames else None
    if frames is None and duration_s and rate:
        frames = math.floor(duration_s * rate + 0.5)
    context = stream.codec_context
    nominal = _rate(stream.base_rate) or rate
    return VideoStream(context.codec.canonical_name, int(context.width), int(context.height), rate, frames, nominal)


def _audio(stream: Any) -> AudioStream:
    context = stream.codec_context
    return AudioStream(context.codec.canonical_name, int(context.sample_rate), int(context.layout.nb_channels))


def _rate(value: Fraction | None) -> float:
    return float(value) if value else 0.0
