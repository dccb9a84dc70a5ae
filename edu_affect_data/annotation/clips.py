"""Browser-playable clips and transcripts of the kept sessions, for the annotators.

Browsers play neither IEMOCAP's DivX AVI nor a bare WAV beside a video, so each session becomes
one H.264/AAC MP4 (``yuv420p``, ``+faststart`` so it starts playing before it has downloaded),
with the session's audio muxed in. Label Studio's ``<Video>`` and ``<Audio>`` both point at that
one file.

Crop: an IEMOCAP dialog video shows both actors side by side; the clip keeps only the session
speaker's half (``video_region``), so the annotator judges the person the label belongs to, not
the partner. The clip is cut from that region's proxy, which the ingest's one decoding pass left
(``video_pass.py``: already cropped and scaled, H.264 ``yuv420p``, every frame a keyframe), so the
source video is never decoded again here. The transcript still shows both speakers' turns (the
partner's words are context) and marks the session speaker with ``*``. MOSEI videos are used full
frame.

Stream copy: with ``annotation.clip.height`` and ``fps`` null (the default) the clip is the
proxy's own frames: every proxy frame is a keyframe, so the proxy's packets whose timestamps fall
in the session window are copied as they are (no decode, no encode; the only encoding is the
session's audio to AAC). That is the same frames a decode-and-re-encode of the window keeps, not an
approximation: the cut starts on the session's first frame and ends before the first frame at or
after its end, exactly as ffmpeg's accurate seek does. The clip then has the proxy's height and
the source's frame rate, which differs between corpora (IEMOCAP 29.97, MOSEI's videos each their
own), so Label Studio's ``frameRate`` is the task's ``fps`` field (`tasks.session_task` reads it
from the clip). A number for ``height`` or ``fps`` that the proxy does not already have re-encodes
the window at it (scale, ``fps`` filter, x264 at ``crf``), one rate for every clip, as before.

A clip that already exists is probed (``media.probe``: H.264 + AAC, the expected height and frame
rate, the session's duration) and kept when valid, so a rerun redoes only missing, broken or
outdated clips (the build state's output digests catch a valid-looking clip that is not the one
the build wrote). New clips (and transcripts) are written to a temporary name and renamed, so an
interrupted run never leaves a half-written file that looks finished; the temporaries a killed run
left behind are deleted by the next one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_affect_data.annotation.options import ClipConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.atomic import atomic_write, atomic_write_text, remove_stale_temporaries
from edu_affect_data.core.manifest import session_batches
from edu_affect_data.core.names import path_part
from edu_affect_data.core.parallel import map_all
from edu_affect_data.media.probe import BrokenMediaError, MediaProbe, probe_media

CLIPS_DIRNAME = "clips"
#: Frame rates closer than this are one rate (29.97 written as 30000/1001 or rounded).
FPS_TOLERANCE = 0.01
#: The sessions-table columns a clip (`clip_spec`) and its transcript (`session_transcript`) are made from.
CLIP_COLUMNS = (
    "session_id", "corpus", "status", "speaker_id", "start_s", "end_s", "audio_path", "proxy_path", "proxy_start_s", "turns",
)  # fmt: skip
#: A stream copy seeks the proxy this long before the session (a fast seek that lands on a frame,
#: every frame being a keyframe), then drops the packets before the session's start exactly.
COPY_LEAD_S = 1.0


class ClipError(RuntimeError):
    """A clip could not be made or does not come out right; the message names the session."""


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to cut one session's clip (picklable, for process executors)."""

    session_id: str
    #: The session region's proxy (`media.store`) and the recording time of its first frame.
    proxy_path: str
    proxy_start_s: float
    audio_path: str
    start_s: float
    end_s: float
    out_path: str
    #: None: the proxy's (the clip is then cut by stream copy where the other also matches).
    height: int | None
    fps: float | None
    crf: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class ClipShape:
    """What a clip comes out as, and whether the proxy already is that (then: stream copy)."""

    height: int
    #: The rate the clip's frames step by (`VideoStream.nominal_fps`): what Label Studio steps by.
    fps: float
    copy: bool


@dataclass(frozen=True)
class ClipResult:
    session_id: str
    path: Path
    made: bool


def clips_dir(media_root: Path) -> Path:
    """The folder Label Studio's local-files storage points at (a subfolder of the media root)."""
    return Path(media_root) / CLIPS_DIRNAME


def clip_path(media_root: Path, session_id: str, suffix: str = ".mp4") -> Path:
    """``clips/<session><suffix>``: the session id made a safe file name (`core.names.path_part`)."""
    return clips_dir(media_root) / f"{path_part(session_id)}{suffix}"


def probe_clip(path: Path) -> MediaProbe | None:
    """What the clip's header says (`media.probe`); None when it does not open as a media file."""
    try:
        return probe_media(path)
    except BrokenMediaError:
        return None


def clip_shape(spec: ClipSpec) -> ClipShape:
    """The clip's height and frame rate: the configured ones, the proxy's where null; copy when they are the proxy's."""
    proxy = probe_clip(Path(spec.proxy_path))
    if proxy is None or proxy.video is None:
        raise ClipError(
            f"session {spec.session_id}: the proxy {spec.proxy_path} does not open as a video "
            "(run the ingest stage again: it writes the proxies clips are cut from)"
        )
    video = proxy.video
    height = spec.height or video.height
    fps = spec.fps or video.nominal_fps
    return ClipShape(height, fps, copy=height == video.height and abs(fps - video.nominal_fps) <= FPS_TOLERANCE)


def clip_frame_rate(path: Path) -> float:
    """The rate a finished clip's frames step by (Label Studio's ``frameRate`` for its task)."""
    probe = probe_clip(path)
    if probe is None or probe.video is None:
        raise ClipError(f"{path}: the clip does not open as a video; cut the clips again (`edu-data annotate push`)")
    return probe.video.nominal_fps


def clip_problem(spec: ClipSpec, probe: MediaProbe | None, shape: ClipShape | None = None) -> str | None:
    """Why an existing clip does not fit ``spec`` (None: it fits and is kept); ``shape``: `clip_shape(spec)`."""
    if probe is None:
        return "does not open as a media file"
    video, audio = probe.video, probe.audio
    if video is None:
        return "has no video stream"
    codecs = (video.codec, audio.codec if audio else None)
    if codecs != ("h264", "aac"):
        return f"codecs {codecs[0]}/{codecs[1]}, expected h264/aac"
    shape = shape or clip_shape(spec)
    if video.height != shape.height:
        return f"height {video.height}, expected {shape.height}"
    if abs(video.nominal_fps - shape.fps) > FPS_TOLERANCE:
        return f"{video.nominal_fps:g} fps, expected {shape.fps:g}"
    tolerance = max(0.1, 1.5 / shape.fps)
    if probe.duration_s is None or abs(probe.duration_s - spec.duration_s) > tolerance:
        found = "no duration" if probe.duration_s is None else f"duration {probe.duration_s:.2f} s"
        return f"{found}, expected {spec.duration_s:.2f} s"
    return None


def ffmpeg_command(spec: ClipSpec, out: Path, shape: ClipShape | None = None) -> list[str]:
    """The cut: the proxy's window and the audio's, H.264/AAC, faststart; the video copied or re-encoded (`clip_shape`)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    shape = shape or clip_shape(spec)
    command = [get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    offset = max(0.0, spec.start_s - spec.proxy_start_s)
    if shape.copy:
        # Both inputs seek to `lead` before the session, so one clock serves both; the output's
        # -ss then drops every packet before the session's start (all keyframes: frame-exact).
        lead = min(COPY_LEAD_S, offset)
        command += ["-ss", f"{offset - lead:.6f}", "-i", spec.proxy_path]
        command += ["-ss", f"{spec.start_s - lead:.6f}", "-i", spec.audio_path]
        command += ["-map", "0:v:0", "-map", "1:a:0", "-ss", f"{lead:.6f}", "-t", f"{spec.duration_s:.6f}"]
        # A proxy has no frames where the video had none (a gap under the threshold stays in a kept
        # session), so a frame before such a gap lasts until the next one: at the window's end that
        # stretched the clip past the session (demo: 18.99 s for 15.71). No frame lasts longer than
        # one frame interval in the clip; only the last one's length is taken from that (mp4 times
        # the others by the next frame), so every frame of the window is kept where it was.
        command += ["-c:v", "copy", "-bsf:v", f"setts=duration='min(DURATION,1/({shape.fps:.9f}*TB))'"]
    else:
        duration = ["-t", f"{spec.duration_s:.3f}"]
        command += ["-ss", f"{offset:.3f}", *duration, "-i", spec.proxy_path]
        command += ["-ss", f"{spec.start_s:.3f}", *duration, "-i", spec.audio_path]
        video_filter = f"scale=-2:{shape.height},fps={shape.fps:g},format=yuv420p"
        command += ["-map", "0:v:0", "-map", "1:a:0"]
        command += ["-vf", video_filter, "-c:v", "libx264", "-preset", "veryfast"]
        command += ["-crf", str(spec.crf), "-pix_fmt", "yuv420p", *duration]
    command += ["-c:a", "aac", "-b:a", "96k"]
    command += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return command


def make_clip(spec: ClipSpec) -> ClipResult:
    """Cut one session's clip unless a valid one is already there."""
    out = Path(spec.out_path)
    shape = clip_shape(spec)
    if out.exists() and clip_problem(spec, probe_clip(out), shape) is None:
        return ClipResult(spec.session_id, out, made=False)
    atomic_write(out, lambda partial: _cut_checked(spec, shape, partial))
    return ClipResult(spec.session_id, out, made=True)


def _cut_checked(spec: ClipSpec, shape: ClipShape, partial: Path) -> None:
    """Cut the clip into `partial` and refuse it unless it plays what the spec asks for."""
    run = subprocess.run(ffmpeg_command(spec, partial, shape), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ClipError(
            f"session {spec.session_id}: ffmpeg failed on {spec.proxy_path} / {spec.audio_path}: "
            f"{run.stderr.strip()[-500:]}"
        )
    problem = clip_problem(spec, probe_clip(partial), shape)
    if problem is not None:
        raise ClipError(
            f"session {spec.session_id}: the clip cut from {spec.proxy_path} "
            f"[{spec.start_s:.2f}, {spec.end_s:.2f}] s {problem}"
        )


def clip_spec(session: dict[str, Any], media_root: Path, clip: ClipConfig) -> ClipSpec:
    """The clip of one SESSIONS_SCHEMA row."""
    session_id = str(session["session_id"])
    for column in ("proxy_path", "audio_path"):
        if not session.get(column):
            hint = " (run the ingest stage again: it leaves the proxies clips are cut from)" if column == "proxy_path" else ""
            raise ClipError(f"session {session_id}: no {column} in the sessions table{hint}")
    return ClipSpec(
        session_id=session_id,
        proxy_path=str(session["proxy_path"]),
        proxy_start_s=float(session["proxy_start_s"]),
        audio_path=str(session["audio_path"]),
        start_s=float(session["start_s"]),
        end_s=float(session["end_s"]),
        out_path=str(clip_path(media_root, session_id)),
        height=clip.height,
        fps=clip.fps,
        crf=clip.crf,
    )


def _clock(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def format_transcript(
    turns: Iterable[dict[str, Any]], *, start_s: float, speaker_id: str
) -> str:
    """Speaker turns as ``[mm:ss.s] * speaker: words`` lines, times from the clip start."""
    lines = []
    for turn in sorted(turns, key=lambda t: float(t["start_s"])):
        mark = "*" if turn["speaker_id"] == speaker_id else " "
        text = " ".join(str(turn["text"]).split())
        lines.append(f"[{_clock(float(turn['start_s']) - start_s)}] {mark} {turn['speaker_id']}: {text}")
    return "\n".join(lines) if lines else "(no transcribed speech in this clip)"


def session_transcript(session: dict[str, Any]) -> str:
    return format_transcript(
        session.get("turns") or [],
        start_s=float(session["start_s"]),
        speaker_id=str(session["speaker_id"]),
    )


def write_transcript(session: dict[str, Any], media_root: Path) -> Path:
    """``clips/<session>.txt`` beside the clip (rewritten only when its text changed)."""
    path = clip_path(media_root, str(session["session_id"]), ".txt")
    text = session_transcript(session) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return path


def make_clips(
    sessions: Sequence[dict[str, Any]],
    media_root: Path,
    clip: ClipConfig,
    *,
    executor: Executor | None = None,
) -> list[ClipResult]:
    """Clips and transcripts of ``sessions`` (SESSIONS_SCHEMA rows), in parallel over ``executor``."""
    specs = [clip_spec(session, media_root, clip) for session in sessions]
    remove_stale_temporaries(clips_dir(media_root))  # a killed run's half-cut clips
    for session in sessions:
        write_transcript(session, media_root)
    return cut_clips(specs, executor)


def make_kept_clips(
    paths: BuildPaths,
    media_root: Path,
    clip: ClipConfig,
    *,
    executor: Executor | None = None,
    corpus: str | None = None,
) -> list[ClipResult]:
    """`make_clips` of the build's kept sessions (of `corpus` only, if given), the sessions table streamed.

    Only `CLIP_COLUMNS` are read, a batch at a time (`core.manifest.session_batches`): each batch's
    transcripts are written and its clips' specs kept (a few numbers and paths each), so the parent
    never holds every candidate's words and turns (issue 24, item 6).
    """
    remove_stale_temporaries(clips_dir(media_root))  # a killed run's half-cut clips
    specs = []
    for batch in session_batches(paths, CLIP_COLUMNS):
        for session in batch.to_pylist():
            if session["status"] == "kept" and corpus in (None, session["corpus"]):
                specs.append(clip_spec(session, media_root, clip))
                write_transcript(session, media_root)
    return cut_clips(specs, executor)


def cut_clips(specs: Sequence[ClipSpec], executor: Executor | None = None) -> list[ClipResult]:
    """Every spec's clip (`make_clip`), in parallel over ``executor``, in ``specs`` order."""
    return map_all(
        make_clip, specs, executor, describe=lambda spec: f"clip of session {spec.session_id}",
        progress=("annotate: cutting clips", "clip"),
    )
