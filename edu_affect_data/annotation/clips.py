"""Browser-playable clips and transcripts of the kept sessions, for the annotators.

Browsers play neither IEMOCAP's DivX AVI nor a bare WAV beside a video, so each session becomes
one H.264/AAC MP4 (``yuv420p``, ``+faststart`` so it starts playing before it has downloaded),
at ``annotation.clip`` height/fps/crf, with the session's audio muxed in. Label Studio's
``<Video>`` and ``<Audio>`` both point at that one file.

Crop: an IEMOCAP dialog video shows both actors side by side; the clip keeps only the session
speaker's half (``video_region``), so the annotator judges the person the label belongs to, not
the partner. The clip is cut from that region's proxy, which the ingest's one decoding pass left
(``video_pass.py``: already cropped and scaled, intra-only so the cut starts on the session's exact
frame), so the source video is never decoded again here. The transcript still shows both speakers' turns (the partner's words are context)
and marks the session speaker with ``*``. MOSEI videos are used full frame.

A clip that already exists is probed (``media.probe``: H.264 + AAC, the configured height and
fps, the session's duration) and kept when valid, so a rerun redoes only missing, broken or
outdated clips. New clips (and transcripts) are written to a temporary name and renamed, so an
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
from edu_affect_data.core.atomic import atomic_write, atomic_write_text, remove_stale_temporaries
from edu_affect_data.core.names import path_part
from edu_affect_data.core.parallel import map_all
from edu_affect_data.media.probe import BrokenMediaError, MediaProbe, probe_media

CLIPS_DIRNAME = "clips"


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
    height: int
    fps: float
    crf: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


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


def clip_problem(spec: ClipSpec, probe: MediaProbe | None) -> str | None:
    """Why an existing clip does not fit ``spec`` (None: it fits and is kept)."""
    if probe is None:
        return "does not open as a media file"
    video, audio = probe.video, probe.audio
    if video is None:
        return "has no video stream"
    codecs = (video.codec, audio.codec if audio else None)
    if codecs != ("h264", "aac"):
        return f"codecs {codecs[0]}/{codecs[1]}, expected h264/aac"
    if video.height != spec.height:
        return f"height {video.height}, expected {spec.height}"
    if abs(video.fps - spec.fps) > 0.01:
        return f"{video.fps:g} fps, expected {spec.fps:g}"
    tolerance = max(0.1, 1.5 / spec.fps)
    if probe.duration_s is None or abs(probe.duration_s - spec.duration_s) > tolerance:
        found = "no duration" if probe.duration_s is None else f"duration {probe.duration_s:.2f} s"
        return f"{found}, expected {spec.duration_s:.2f} s"
    return None


def ffmpeg_command(spec: ClipSpec, out: Path) -> list[str]:
    """The transcode: the proxy's window and the audio's, scale, resample, H.264/AAC, faststart."""
    from imageio_ffmpeg import get_ffmpeg_exe

    duration = ["-t", f"{spec.duration_s:.3f}"]
    command = [get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += ["-ss", f"{max(0.0, spec.start_s - spec.proxy_start_s):.3f}", *duration, "-i", spec.proxy_path]
    command += ["-ss", f"{spec.start_s:.3f}", *duration, "-i", spec.audio_path]
    video_filter = f"scale=-2:{spec.height},fps={spec.fps:g},format=yuv420p"
    command += ["-map", "0:v:0", "-map", "1:a:0"]
    command += ["-vf", video_filter, "-c:v", "libx264", "-preset", "veryfast"]
    command += ["-crf", str(spec.crf), "-pix_fmt", "yuv420p"]
    command += ["-c:a", "aac", "-b:a", "96k", "-t", f"{spec.duration_s:.3f}"]
    command += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return command


def make_clip(spec: ClipSpec) -> ClipResult:
    """Cut one session's clip unless a valid one is already there."""
    out = Path(spec.out_path)
    if out.exists() and clip_problem(spec, probe_clip(out)) is None:
        return ClipResult(spec.session_id, out, made=False)
    atomic_write(out, lambda partial: _cut_checked(spec, partial))
    return ClipResult(spec.session_id, out, made=True)


def _cut_checked(spec: ClipSpec, partial: Path) -> None:
    """Cut the clip into `partial` and refuse it unless it plays what the spec asks for."""
    run = subprocess.run(ffmpeg_command(spec, partial), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ClipError(
            f"session {spec.session_id}: ffmpeg failed on {spec.proxy_path} / {spec.audio_path}: "
            f"{run.stderr.strip()[-500:]}"
        )
    problem = clip_problem(spec, probe_clip(partial))
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
    return map_all(
        make_clip, specs, executor, describe=lambda spec: f"clip of session {spec.session_id}",
        progress=("annotate: cutting clips", "clip"),
    )
