"""Write wav, DivX AVI and H.264 MP4 files the way the corpora ship them, byte-reproducibly.

ffmpeg is the bundled one from imageio-ffmpeg; bit-exact flags and one thread keep two runs
identical. Broken files are made from good ones: a truncated wav keeps its header (which then
promises more than the file holds), an undecodable video is replaced by seeded garbage bytes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from edu_affect_data.synth.voice import SAMPLE_RATE, to_pcm16

BITEXACT = [
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-map_metadata",
    "-1",
    "-threads",
    "1",
]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def write_wav(path: Path, audio: np.ndarray) -> None:
    """16 kHz mono 16-bit PCM, the format of both corpora's wavs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, to_pcm16(audio), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _encode(args: list[str], frames: Iterable[tuple[int, np.ndarray]], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [ffmpeg_exe(), "-y", "-v", "error", *args, str(out)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    count = 0
    try:
        for _, frame in frames:
            process.stdin.write(frame.tobytes())
            count += 1
    finally:
        process.stdin.close()
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {out}: {error.strip()}")
    return count


def _raw_input(size: tuple[int, int], rate: str) -> list[str]:
    return [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{size[0]}x{size[1]}",
        "-framerate",
        rate,
        "-i",
        "-",
    ]


def write_divx_avi(
    path: Path, frames: Iterable[tuple[int, np.ndarray]], size: tuple[int, int], wav: Path
) -> int:
    """MPEG-4 part 2 tagged DX50 at 30000/1001 fps with PCM audio, like IEMOCAP's dialog AVIs.

    The video stream holds exactly the frames given: fewer than the audio needs means the stream
    ends early (a missing-video fault). Every frame is intra-coded: with P-frames the encoder keeps
    refining a repeated picture, so a frozen stretch would drift away from its first frame.
    """
    args = [
        *_raw_input(size, "30000/1001"),
        "-i", str(wav),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "mpeg4", "-vtag", "DX50", "-q:v", "6", "-g", "1", "-pix_fmt", "yuv420p",
        "-c:a", "pcm_s16le",
        *BITEXACT,
    ]  # fmt: skip
    return _encode(args, frames, path)


def write_h264_mp4(
    path: Path,
    frames: Iterable[tuple[int, np.ndarray]],
    size: tuple[int, int],
    fps: float,
    wav: Path,
    jumps: list[tuple[int, int]],
    keyframes_s: Sequence[float] = (),
) -> int:
    """H.264 + AAC MP4 (moov first). `jumps` = (frames fed before the jump, frames skipped): the
    timestamps jump there, which is how a real MP4 loses frames without losing sync. The first
    frame at or after each of `keyframes_s` is a keyframe (nothing before it is referenced after).

    Constant QP with a wide inter dead zone makes a repeated picture decode as an exact repeat
    (x264's rate control would otherwise keep refining it, and a frozen stretch would not look frozen).
    """
    terms = "".join(f"+gte(N,{fed})*{skipped}" for fed, skipped in jumps)
    forced = ["-force_key_frames", ",".join(f"{t:.6f}" for t in keyframes_s)] if keyframes_s else []
    args = [
        *_raw_input(size, f"{fps:g}"),
        "-i", str(wav),
        "-map", "0:v:0", "-map", "1:a:0",
        "-vf", f"setpts='(N{terms})/(FRAME_RATE*TB)'", "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "18", "-x264-params", "deadzone-inter=32", "-pix_fmt", "yuv420p",
        *forced,
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart",
        *BITEXACT,
    ]  # fmt: skip
    return _encode(args, frames, path)


def truncate_data(path: Path, keep: float) -> None:
    """Cut a wav's data chunk to `keep` of its length; the header still promises all of it."""
    data = path.read_bytes()
    start = data.index(b"data") + 8
    path.write_bytes(data[: start + int((len(data) - start) * keep) // 2 * 2])


def write_garbage(path: Path, rng: np.random.Generator, size: int = 4096) -> None:
    """Bytes no demuxer accepts (seeded, so reruns match)."""
    path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
