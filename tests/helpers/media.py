"""Running the bundled ffmpeg and decoding a video, as the media tests do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np


def ffmpeg(*args: str, input: bytes | None = None) -> bytes:
    """Run imageio-ffmpeg's ffmpeg quietly (errors only, overwriting outputs); its stdout.

    Fails (CalledProcessError) when ffmpeg does; its error lines go to the test's captured stderr.
    """
    from imageio_ffmpeg import get_ffmpeg_exe

    command = [get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    return subprocess.run(command, input=input, stdout=subprocess.PIPE, check=True).stdout


def decode_video(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """(presentation time in seconds, BGR frame) of every frame OpenCV decodes from `path`."""
    cap = cv2.VideoCapture(str(path))
    times, frames = [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000)
        frames.append(frame)
    return np.array(times), frames


def media_pair(folder: Path, cut_s: float) -> list[dict[str, Path]]:
    """Two 4-s recordings (WAV, intra-coded MJPEG video, timed transcript) equal before `cut_s`, different after.

    After the cut the first keeps moving (`testsrc`) and the second shows a still picture (`smptebars`),
    so the second's frames after the cut are judged frozen: fewer usable frames, not only other pixels.
    """
    import soundfile as sf

    rate, rng = 16000, np.random.default_rng(0)
    t = np.arange(4 * rate) / rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 0.02, len(t))).astype(np.float32)
    other = audio.copy()
    cut = int(cut_s * rate)
    other[cut:] = (0.5 * np.sin(2 * np.pi * 880 * t[cut:]) + rng.normal(0, 0.1, len(t) - cut)).astype(np.float32)
    words = ["0.2 0.6 so\n0.7 1.2 what\n1.3 1.9 is\n", "2.1 2.6 a\n2.7 3.4 derivative\n", "2.2 2.8 completely\n2.9 3.5 different\n"]
    pair = []
    for name, samples, later_video, later_words in (("a", audio, "testsrc", words[1]), ("b", other, "smptebars", words[2])):
        files = {"wav": folder / f"{name}.wav", "video": folder / f"{name}.avi", "words": folder / f"{name}.txt"}
        sf.write(files["wav"], samples, rate, subtype="FLOAT")
        ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={cut_s}", "-f", "lavfi",
               "-i", f"{later_video}=size=160x120:rate=10:duration={4 - cut_s}", "-filter_complex", "[0][1]concat=n=2:v=1",
               "-c:v", "mjpeg", "-q:v", "3", str(files["video"]))
        files["words"].write_text(words[0] + later_words)
        pair.append(files)
    return pair
