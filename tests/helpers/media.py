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
