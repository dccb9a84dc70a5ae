"""A drawn face whose brows, eyes, mouth, head pose and head motion carry the expressed emotion.

The cues are large on purpose (head height, size and roll, mouth opening and curve, thick angled
brows) so they survive downscaling the speaker's region to 32x32 px and averaging frames over
seconds. OpenCV primitives are enough for a model to learn from and cheap enough for tens of thousands of
frames. The backdrop is a drifting stripe pattern and every frame gets sensor noise, so a frame
never repeats its predecessor: only injected faults are frozen or black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceStyle:
    #: Brow height above rest, as a fraction of the face size (+ up).
    brow_raise: float
    #: Inner brow ends lowered (+, the frown of anger) or raised (-, worry/interest).
    brow_tilt: float
    #: One brow up and the other down (the quizzical look).
    brow_asym: float
    #: Mouth corners up (+, smile) or down (-).
    mouth_curve: float
    #: Resting mouth opening.
    mouth_open: float
    #: Pupil offset (x, y) as a fraction of the eye radius (+y looks down).
    gaze: tuple[float, float]
    #: Upper eyelid closure, 0 open .. 1 shut.
    lid: float
    #: Head motion amplitude (fraction of the region) and rate (Hz).
    head_amp: float
    head_hz: float
    #: Head pose: vertical offset (fraction of the region height, + down), size factor (leaning
    #: in > 1) and static roll (degrees, the tilt of the quizzical head).
    head_dy: float
    head_scale: float
    head_roll: float


FACES: dict[str, FaceStyle] = {
    "Confused": FaceStyle(
        0.04, 0.0, 0.16, -0.06, 0.06, (0.5, -0.6), 0.1, 0.02, 0.4, 0.0, 1.0, 20.0
    ),
    "Curious": FaceStyle(
        0.18, -0.08, 0.0, 0.18, 0.22, (0.0, -0.2), 0.0, 0.03, 0.8, -0.08, 1.15, 0.0
    ),
    "Bored": FaceStyle(-0.05, 0.0, 0.0, 0.0, 0.0, (0.0, 0.9), 0.7, 0.01, 0.15, 0.14, 0.88, -6.0),
    "Frustrated": FaceStyle(
        -0.08, 0.22, 0.0, -0.22, 0.08, (0.6, 0.1), 0.3, 0.05, 1.6, 0.0, 1.0, 0.0
    ),
}

#: Stripe period of the backdrop (px) and its drift per frame (px).
STRIPE_PERIOD = 48
STRIPE_DRIFT = 2
NOISE_BANK = 8
NOISE_AMPLITUDE = 4


@dataclass(frozen=True)
class Appearance:
    """What stays the same for one person: colours and phases of their movements."""

    skin: tuple[int, int, int]
    backdrop: tuple[int, int, int]
    phase: float


def appearance(rng: np.random.Generator) -> Appearance:
    skin = tuple(int(x) for x in rng.integers([120, 150, 190], [170, 200, 240]))
    backdrop = tuple(int(x) for x in rng.integers(90, 170, 3))
    return Appearance(
        skin=(skin[0], skin[1], skin[2]),
        backdrop=(backdrop[0], backdrop[1], backdrop[2]),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


def backdrop_strip(width: int, height: int, look: Appearance) -> np.ndarray:
    """A stripe pattern one period wider than the region, so a drifting slice is a cheap view."""
    x = np.arange(width + STRIPE_PERIOD)
    stripes = 28 * np.sin(2 * np.pi * x / STRIPE_PERIOD)
    ramp = np.linspace(-15, 15, height)[:, None]
    base = np.array(look.backdrop, dtype=np.float32)[None, None, :]
    strip = base + (stripes[None, :] + ramp)[:, :, None]
    return np.clip(strip, 0, 255).astype(np.uint8)


def noise_bank(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise in blocks of about 1/80 of the width: visible, yet cheap for the encoders
    (per-pixel noise would make full-size intra-coded video many times larger)."""
    block = max(1, width // 80)
    coarse = rng.integers(
        0,
        NOISE_AMPLITUDE + 1,
        (NOISE_BANK, -(-height // block), -(-width // block), 3),
        dtype=np.uint8,
    )
    fine = np.repeat(np.repeat(coarse, block, axis=1), block, axis=2)
    return np.ascontiguousarray(fine[:, :height, :width])


def head_pose(
    shape: tuple[int, ...], style: FaceStyle, look: Appearance, t: float
) -> tuple[float, float, float, float]:
    """(centre x, centre y, size, roll in degrees) of the head in a region of `shape` at `t`.
    The face ellipse has half-axes 0.8 * size (across) and size (down)."""
    h, w = shape[:2]
    size = 0.36 * min(w, h * 1.2) * style.head_scale
    swing = 2 * np.pi * style.head_hz * t + look.phase
    cx = w / 2 + style.head_amp * w * np.sin(swing)
    cy = h / 2 + style.head_dy * h + 0.5 * style.head_amp * h * np.cos(1.3 * swing)
    tilt = style.head_roll + 12 * style.head_amp / 0.07 * np.sin(0.7 * swing)
    return float(cx), float(cy), float(size), float(tilt)


def face_box(
    shape: tuple[int, ...], style: FaceStyle, look: Appearance, t: float
) -> tuple[int, int, int, int]:
    """Pixel box `(x0, y0, x1, y1)` (exclusive ends, clipped to the region) holding the whole
    drawn face at `t`, whatever its roll: where an occluder must sit to hide it."""
    h, w = shape[:2]
    cx, cy, size, _ = head_pose(shape, style, look, t)
    # Everything drawn lies within `size` of the centre (the raised brows' thick lines just past it).
    reach = 1.1 * size
    x0, x1 = math.floor(cx - reach), math.ceil(cx + reach) + 1
    y0, y1 = math.floor(cy - reach), math.ceil(cy + reach) + 1
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def draw_face(
    region: np.ndarray, style: FaceStyle, look: Appearance, t: float, speaking: float
) -> None:
    """Draw one person into `region` (a view of the frame) at time `t`; `speaking` 0..1 opens the mouth."""
    cx, cy, size, tilt = head_pose(region.shape, style, look, t)

    def pt(dx: float, dy: float) -> tuple[int, int]:
        a = np.deg2rad(tilt)
        x = dx * np.cos(a) - dy * np.sin(a)
        y = dx * np.sin(a) + dy * np.cos(a)
        return round(cx + x * size), round(cy + y * size)

    cv2.ellipse(region, pt(0, 0), (int(size * 0.8), int(size)), tilt, 0, 360, look.skin, -1)
    eye_r = max(2, int(size * 0.16))
    for side in (-1, 1):
        eye = pt(0.35 * side, -0.2)
        cv2.circle(region, eye, eye_r, (245, 245, 245), -1)
        pupil = pt(0.35 * side + 0.1 * style.gaze[0], -0.2 + 0.1 * style.gaze[1])
        cv2.circle(region, pupil, max(1, eye_r // 2), (40, 30, 20), -1)
        if style.lid > 0:
            lid_h = round(style.lid * eye_r * 2)
            x0, y0 = eye[0] - eye_r - 1, eye[1] - eye_r - 1
            cv2.rectangle(region, (x0, y0), (x0 + 2 * eye_r + 2, y0 + lid_h), look.skin, -1)
        raise_ = style.brow_raise + side * style.brow_asym
        outer = pt(0.55 * side, -0.45 - raise_)
        inner = pt(0.15 * side, -0.45 - raise_ + style.brow_tilt)
        cv2.line(region, outer, inner, (40, 30, 30), max(1, int(size * 0.11)))
    opening = style.mouth_open + 0.12 * speaking
    xs = np.linspace(-0.38, 0.38, 9)
    spread = (xs / 0.38) ** 2
    centre = 0.5 - style.mouth_curve * spread  # a smile lifts the corners
    half = 0.5 * opening * (1 - spread) + 0.03
    top = [pt(x, c - o) for x, c, o in zip(xs, centre, half, strict=True)]
    bottom = [pt(x, c + o) for x, c, o in zip(xs, centre, half, strict=True)]
    lips = np.array(top + bottom[::-1], dtype=np.int32)
    cv2.fillPoly(region, [lips], (50, 30, 130))
