"""A speech-like voice whose prosody carries the expressed emotion, over low room noise.

Each word is a harmonic source (pitch contour from the speaker's base pitch and the class style,
with cycle-to-cycle jitter) whose harmonics fall off with the style's spectral tilt, shaped by two
vowel-like resonances (shifted by the style's formant brightness), plus breath noise and a
syllable-rate amplitude envelope. Classes differ the way prosody studies describe learners: bored
speech is low, flat, slow, dark and breathy; curious speech high, lively and melodic; frustrated
speech fast, harsh (jitter), bright and falling; confused speech rising (questioning) and
hesitant. The cues lie in contour shape, modulation rate, spectral shape and roughness, so they
survive per-session MFCC mean/variance normalisation, not only in level. Room noise is everywhere
so that only injected dropouts are digital silence.
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
    #: Relative depth and rate (Hz) of the melodic pitch movement inside words.
    f0_wobble: float
    wobble_hz: float
    #: Relative size of the fast random pitch perturbation (roughness).
    jitter: float
    #: RMS level of voiced speech.
    level: float
    #: Syllables per second (amplitude-modulation rate) and the depth of that modulation (0..1).
    syllable_hz: float
    syllable_depth: float
    #: Harmonic k has amplitude 1/k**tilt: high tilt is a dark, soft voice, low a bright, tense one.
    tilt: float
    #: Multiplies the vowel formants (tense, bright voices raise them).
    formant_shift: float
    #: Share of breath noise in the voiced signal.
    breath: float


VOICES: dict[str, VoiceStyle] = {
    "Confused": VoiceStyle(
        f0_scale=1.05,
        f0_slope=0.55,
        f0_wobble=0.05,
        wobble_hz=1.5,
        jitter=0.02,
        level=0.06,
        syllable_hz=3.0,
        syllable_depth=0.7,
        tilt=1.2,
        formant_shift=1.0,
        breath=0.15,
    ),
    "Curious": VoiceStyle(
        f0_scale=1.30,
        f0_slope=0.10,
        f0_wobble=0.18,
        wobble_hz=5.0,
        jitter=0.003,
        level=0.08,
        syllable_hz=5.0,
        syllable_depth=0.9,
        tilt=0.9,
        formant_shift=1.08,
        breath=0.03,
    ),
    "Bored": VoiceStyle(
        f0_scale=0.80,
        f0_slope=-0.05,
        f0_wobble=0.01,
        wobble_hz=1.0,
        jitter=0.005,
        level=0.03,
        syllable_hz=2.0,
        syllable_depth=0.4,
        tilt=2.2,
        formant_shift=0.88,
        breath=0.5,
    ),
    "Frustrated": VoiceStyle(
        f0_scale=1.15,
        f0_slope=-0.45,
        f0_wobble=0.06,
        wobble_hz=3.0,
        jitter=0.06,
        level=0.12,
        syllable_hz=7.5,
        syllable_depth=1.0,
        tilt=0.5,
        formant_shift=1.15,
        breath=0.05,
    ),
}

#: Samples between the random points of the jitter curve (5 ms: about one pitch period).
JITTER_STEP = 80


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
    contour += style.f0_wobble * np.sin(2 * np.pi * style.wobble_hz * t + rng.uniform(0, 2 * np.pi))
    knots = rng.normal(0, style.jitter, n // JITTER_STEP + 2)
    contour += np.interp(np.arange(n) / JITTER_STEP, np.arange(len(knots)), knots)
    phase = 2 * np.pi * np.cumsum(f0 * contour) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi)
    harmonics = np.asarray(
        sum(np.sin(k * phase) / k**style.tilt for k in range(1, N_HARMONICS + 1))
    )
    harmonics /= np.sqrt(np.mean(harmonics**2)) + 1e-9
    # Breath is noise through the same vocal tract: aspiration, not hiss.
    breath = max(style.breath, 0.05)
    source = (1 - breath) * harmonics + breath * rng.normal(0, 1, n)
    f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
    scale = formant_scale * style.formant_shift
    voiced = _resonator(source, f1 * scale, 90) + 0.6 * _resonator(source, f2 * scale, 120)
    voiced /= np.sqrt(np.mean(voiced**2)) + 1e-9
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * style.syllable_hz * t + rng.uniform(0, np.pi))
    envelope = 1 - style.syllable_depth + style.syllable_depth * syllables
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
