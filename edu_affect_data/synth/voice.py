"""A speech-like voice whose prosody carries the expressed emotion, over low room noise.

Each word is a harmonic source (pitch contour from the speaker's base pitch and the class style)
shaped by two vowel-like resonances and a syllable-rate amplitude envelope. Classes differ the way
prosody studies describe learners: bored speech is low, flat, quiet and slow; curious speech high
and lively; frustrated speech loud, fast and falling; confused speech rising (questioning) and
hesitant. Room noise is everywhere so that only injected dropouts are digital silence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

SAMPLE_RATE = 16000
#: RMS of the room noise (about -50 dBFS): far above the -70 dBFS silence threshold of the gap rule.
ROOM_NOISE_RMS = 0.003
N_HARMONICS = 10
#: (F1, F2) of a few vowels, Hz; one is drawn per word.
VOWELS: tuple[tuple[float, float], ...] = (
    (730, 1090),
    (270, 2290),
    (300, 870),
    (530, 1840),
    (660, 1720),
)


@dataclass(frozen=True)
class VoiceStyle:
    #: Multiplies the speaker's base pitch.
    f0_scale: float
    #: Relative pitch change from the start to the end of an utterance (+ rises).
    f0_slope: float
    #: Relative depth of the slow pitch movement inside words.
    f0_wobble: float
    #: RMS level of voiced speech.
    level: float
    #: Syllables per second (amplitude-modulation rate).
    syllable_hz: float


VOICES: dict[str, VoiceStyle] = {
    "Confused": VoiceStyle(
        f0_scale=1.05, f0_slope=0.40, f0_wobble=0.05, level=0.06, syllable_hz=3.2
    ),
    "Curious": VoiceStyle(
        f0_scale=1.30, f0_slope=0.15, f0_wobble=0.12, level=0.08, syllable_hz=4.8
    ),
    "Bored": VoiceStyle(f0_scale=0.80, f0_slope=-0.08, f0_wobble=0.01, level=0.03, syllable_hz=2.6),
    "Frustrated": VoiceStyle(
        f0_scale=1.15, f0_slope=-0.30, f0_wobble=0.08, level=0.12, syllable_hz=6.0
    ),
}


def room_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, ROOM_NOISE_RMS, n_samples).astype(np.float32)


def _resonator(signal: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    theta = 2 * np.pi * freq / SAMPLE_RATE
    return np.asarray(lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], signal))


def _word(
    n: int,
    pos0: float,
    pos1: float,
    f0: float,
    style: VoiceStyle,
    formant_scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One voiced word of `n` samples; `pos0..pos1` is where it sits inside its utterance (0..1)."""
    t = np.arange(n) / SAMPLE_RATE
    position = np.linspace(pos0, pos1, n)
    contour = 1 + style.f0_slope * (position - 0.5)
    contour += style.f0_wobble * np.sin(2 * np.pi * 4.3 * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0 * contour) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi)
    source = sum(np.sin(k * phase) / k for k in range(1, N_HARMONICS + 1))
    source = np.asarray(source) + 0.05 * rng.normal(0, 1, n)
    f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
    voiced = _resonator(source, f1 * formant_scale, 90) + 0.6 * _resonator(
        source, f2 * formant_scale, 120
    )
    voiced /= np.sqrt(np.mean(voiced**2)) + 1e-9
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * style.syllable_hz * t + rng.uniform(0, np.pi))
    envelope = 0.25 + 0.75 * syllables
    fade = min(n // 2, int(0.015 * SAMPLE_RATE))
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        envelope[:fade] *= ramp
        envelope[-fade:] *= ramp[::-1]
    return voiced * envelope


def add_utterance(
    audio: np.ndarray,
    words: Iterable[tuple[float, float]],
    span: tuple[float, float],
    style: VoiceStyle,
    speaker_f0: float,
    formant_scale: float,
    rng: np.random.Generator,
) -> None:
    """Mix one utterance's voiced words (recording-time intervals) into `audio` in place."""
    start, end = span
    length = max(end - start, 1e-3)
    f0 = speaker_f0 * style.f0_scale * (1 + rng.normal(0, 0.04))
    level = style.level * float(np.exp(rng.normal(0, 0.12)))
    for w0, w1 in words:
        i0, i1 = round(w0 * SAMPLE_RATE), min(round(w1 * SAMPLE_RATE), len(audio))
        if i1 - i0 < 8:
            continue
        word = _word(
            i1 - i0, (w0 - start) / length, (w1 - start) / length, f0, style, formant_scale, rng
        )
        audio[i0:i1] += (level * word).astype(np.float32)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
