"""Time-local noise: short bursts that degrade one modality inside kept sessions, never remove it.

Faults (faults.py) make gaps, and a gap removes the session. Noise is what a kept session lives
with: a burst of audio noise at a known SNR, a hand or object over a speaker's face (occlusion) or
a blurred picture, a few words the transcriber could not make out. Each burst is shorter than the
gap rule's 2-s threshold and none leaves a frame the gap scan calls unusable: noise only adds
energy to the audio, an occluder is a lit, moving shaded patch over the face while the backdrop
around it keeps drifting and the sensor noise keeps changing, blur happens before the sensor
noise, and garbled
words keep their times (the transcript still covers the speech). So the gap filter keeps exactly
the sessions it keeps without noise, and papers' claims about reliability weighting (the weight
of a modality drops while it is noisy) can be checked against the recorded intervals.

Placement draws from its own generator (purpose 8) and the audio noise from another (purpose 9),
so without noise the media and transcripts are byte-identical to those written before noise
existed, and with noise they differ from them only inside the bursts (an MP4 also gets a keyframe
after each video burst: `keyframe_times`). Bursts keep `MARGIN_S` from every fault and
from each other (different modalities never overlap either: a claim about one modality is not
confounded by another's burst) and stay off recordings with a file-level break.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from edu_affect_data.core.vocabulary import MODALITIES
from edu_affect_data.synth.face import Appearance, FaceStyle, face_box
from edu_affect_data.synth.faults import FILE_LEVEL
from edu_affect_data.synth.phrasing import bank_words, spoken_spans, spoken_tokens
from edu_affect_data.synth.plan import (
    NON_WORDS,
    UNDERSCORE_SENTENCE,
    NoisePlan,
    RecordingPlan,
    UnitPlan,
    recording_rng,
)
from edu_affect_data.synth.profiles import NoiseShape
from edu_affect_data.synth.voice import SAMPLE_RATE

#: Clearance between a burst and any fault or other burst, and from the recording's ends, seconds.
MARGIN_S = 1.0
#: Random placements tried per burst before giving it up (a crowded recording gets fewer bursts).
ATTEMPTS = 100
#: Gaussian blur sigma as a fraction of the region's width (6 px on a 160-px region: the eyes,
#: brows and mouth dissolve, the stripes of the backdrop still drift visibly).
BLUR_SIGMA = 0.04
#: The occluder's shading: amplitude (grey levels), stripe period (px) and drift (cycles/s).
OCCLUDER_SHADE, OCCLUDER_PERIOD_PX, OCCLUDER_HZ = 20.0, 16.0, 2.3
#: Raised-cosine fade at each end of an audio burst (no clicks), seconds.
FADE_S = 0.01
#: The kind of burst each modality gets (video draws one of the profile's `video_kinds`).
AUDIO_KIND, TEXT_KIND = "audio_noise", "garbled_words"
#: Random purposes of recording_rng owned by this module.
PLACE_PURPOSE, AUDIO_PURPOSE = 8, 9

_ONSETS = (
    "b",
    "bl",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kw",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "sn",
    "t",
    "v",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "oo", "ai")
_CODAS = ("", "", "k", "n", "m", "sh", "x")


def _vocabulary() -> frozenset[str]:
    return bank_words() | {w.lower() for w in spoken_tokens(UNDERSCORE_SENTENCE)}


VOCABULARY = _vocabulary()


def nonsense_word(rng: np.random.Generator) -> str:
    """A pronounceable non-word (2-3 syllables), never a word the synthetic learners say."""
    while True:
        syllables = int(rng.integers(2, 4))
        word = "".join(
            str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) for _ in range(syllables)
        ) + str(rng.choice(_CODAS))
        if word not in VOCABULARY:
            return word


# ------------------------------------------------------------------------------------ placement
def _clear(plan: RecordingPlan, start: float, end: float) -> bool:
    """Inside the recording's margins and `MARGIN_S` away from every fault and placed burst."""
    if start < MARGIN_S or end > plan.duration_s - MARGIN_S:
        return False
    taken = [(f.start_s, f.end_s) for f in plan.faults] + [(b.start_s, b.end_s) for b in plan.noise]
    return all(end + MARGIN_S <= lo or start >= hi + MARGIN_S for lo, hi in taken)


def _audio_burst(
    plan: RecordingPlan, shape: NoiseShape, rng: np.random.Generator
) -> NoisePlan | None:
    """Noise over part of one unit's span (speech is there), on the 10-ms grid of the gap scan."""
    length = float(rng.uniform(*shape.duration_s))
    units = [u for u in plan.units if u.end_s - u.start_s >= length]
    for _ in range(ATTEMPTS if units else 0):
        unit = units[int(rng.integers(len(units)))]
        start = round(float(rng.uniform(unit.start_s, unit.end_s - length)), 2)
        end = round(start + length, 2)
        if _clear(plan, start, end):
            snr = round(float(rng.uniform(*shape.snr_db)), 2)
            return NoisePlan("audio", AUDIO_KIND, "full", start, end, snr_db=snr)
    return None


def _video_burst(
    plan: RecordingPlan, shape: NoiseShape, rng: np.random.Generator
) -> NoisePlan | None:
    """Occlusion or blur of one speaker's region over whole frames (snapped like the faults)."""
    fps = plan.fps
    low, high = math.ceil(shape.duration_s[0] * fps), math.floor(shape.duration_s[1] * fps)
    frames = int(np.clip(round(float(rng.uniform(*shape.duration_s)) * fps), low, high))
    kind = str(rng.choice(shape.video_kinds))
    region = plan.speakers[int(rng.integers(len(plan.speakers)))].region
    colour = tuple(int(c) for c in rng.integers(60, 200, 3))
    for _ in range(ATTEMPTS):
        first = math.ceil(float(rng.uniform(0, plan.duration_s)) * fps)
        start, end = round(first / fps, 6), round((first + frames) / fps, 6)
        if _clear(plan, start, end):
            return NoisePlan(
                "video",
                kind,
                region,
                start,
                end,
                colour=(colour[0], colour[1], colour[2]) if kind == "occlusion" else None,
            )
    return None


def _word_rows(unit: UnitPlan) -> list[int]:
    """Indices into `unit.rows` of its words, in the order of `unit.words()` and of the text's words."""
    return [i for i, row in enumerate(unit.rows) if row.token not in NON_WORDS]


def _text_burst(
    plan: RecordingPlan, shape: NoiseShape, rng: np.random.Generator
) -> NoisePlan | None:
    """A run of consecutive words of one aligned, transcribed unit, garbled in the plan.

    The interval is realised from the words: from the first garbled word's start to the last's
    end, so every word inside it is garbled and none outside. Units without an alignment (their
    words would be spread over the whole utterance) and the segment holding the transcript's field
    separator are left alone.
    """
    length = float(rng.uniform(*shape.duration_s))
    units = [
        u for u in plan.units if u.transcribed and u.aligned and UNDERSCORE_SENTENCE not in u.text
    ]
    for _ in range(ATTEMPTS if units else 0):
        unit = units[int(rng.integers(len(units)))]
        words = unit.words()
        first = int(rng.integers(len(words)))
        last = first
        while last + 1 < len(words) and words[last + 1][2] - words[first][1] <= length:
            last += 1
        start, end = round(words[first][1], 6), round(words[last][2], 6)
        if end - start < shape.duration_s[0] or not _clear(plan, start, end):
            continue
        garble(unit, range(first, last + 1), rng, upper=plan.corpus == "iemocap")
        region = plan.speaker(unit.speaker_id).region
        return NoisePlan("text", TEXT_KIND, region, start, end, units=(unit.unit_id,))
    return None


def garble(unit: UnitPlan, words: Iterable[int], rng: np.random.Generator, *, upper: bool) -> None:
    """Replace the unit's words number `words` (0-based, fillers excluded) by non-words, in the
    transcript text and in the alignment rows alike; times stay as they were."""
    rows = list(unit.rows)
    row_of = _word_rows(unit)
    spans = spoken_spans(unit.text)
    assert len(spans) == len(row_of), f"{unit.unit_id}: text and alignment disagree"
    text = unit.text
    for k in sorted(words, reverse=True):  # right to left: earlier spans stay valid
        word = nonsense_word(rng)
        start, end = spans[k]
        text = text[:start] + word + text[end:]
        rows[row_of[k]] = dataclasses.replace(
            rows[row_of[k]], token=word.upper() if upper else word
        )
    unit.text, unit.rows = text, tuple(rows)


_DRAW = {"audio": _audio_burst, "video": _video_burst, "text": _text_burst}


def place_noise(plan: RecordingPlan, shape: NoiseShape, seed: int) -> None:
    """Plan `shape.per_minute` bursts per minute per modality (fewer where no room is left),
    modalities taking turns so a crowded recording still gets some of each; garbles the text."""
    if FILE_LEVEL & set(plan.broken):
        return
    rng = recording_rng(seed, plan.recording_id, PLACE_PURPOSE)
    for _ in range(round(shape.per_minute * plan.duration_s / 60)):
        for modality in MODALITIES:
            burst = _DRAW[modality](plan, shape, rng)
            if burst is not None:
                plan.noise.append(burst)
    plan.noise.sort(key=lambda b: b.start_s)


# ------------------------------------------------------------------------------------ rendering
def add_audio_noise(
    audio: np.ndarray, bursts: Sequence[NoisePlan], rng: np.random.Generator
) -> None:
    """White Gaussian noise over each audio burst, in place, scaled so that the clean recording's
    power over the burst's samples is `snr_db` above the noise's (fades included)."""
    for burst in bursts:
        if burst.modality != "audio":
            continue
        assert burst.snr_db is not None
        i0, i1 = round(burst.start_s * SAMPLE_RATE), round(burst.end_s * SAMPLE_RATE)
        clean = audio[i0:i1].astype(np.float64)
        noise = rng.normal(0.0, 1.0, i1 - i0)
        fade = min((i1 - i0) // 2, round(FADE_S * SAMPLE_RATE))
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        noise[:fade] *= ramp
        noise[len(noise) - fade :] *= ramp[::-1]
        target = float(np.mean(clean**2)) / 10 ** (burst.snr_db / 10)
        noise *= math.sqrt(target / float(np.mean(noise**2)))
        audio[i0:i1] = (clean + noise).astype(audio.dtype)


def active(burst: NoisePlan, t: float) -> bool:
    """Whether the frame shown at `t` lies in the burst (the faults' rule for whole frames)."""
    return burst.start_s - 1e-6 <= t < burst.end_s - 1e-6


def degrade_region(
    view: np.ndarray, burst: NoisePlan, style: FaceStyle, look: Appearance, t: float
) -> None:
    """Occlude the face drawn in `view` (the speaker's region, before sensor noise) or blur it."""
    if burst.kind == "occlusion":
        assert burst.colour is not None
        x0, y0, x1, y1 = face_box(view.shape, style, look, t)
        # Folds of a sleeve sliding across: the patch changes every frame like the rest of the
        # picture, so a still face behind a still patch can never look frozen.
        phase = 2 * np.pi * (np.arange(x1 - x0) / OCCLUDER_PERIOD_PX - OCCLUDER_HZ * t)
        shade = OCCLUDER_SHADE * np.sin(phase)[None, :, None]
        patch = np.asarray(burst.colour, dtype=np.float64)[None, None, :] + shade
        view[y0:y1, x0:x1] = np.clip(np.round(patch), 0, 255).astype(np.uint8)
    elif burst.kind == "blur":
        sigma = BLUR_SIGMA * view.shape[1]
        view[:] = cv2.GaussianBlur(np.ascontiguousarray(view), (0, 0), sigma)
    else:
        raise ValueError(f"unknown video noise kind {burst.kind!r}")


def keyframe_times(plan: RecordingPlan) -> list[float]:
    """Times at which an inter-coded stream must restart (the frame after each video burst), so
    the degraded pictures are not carried into the frames after the burst by prediction."""
    return [b.end_s - 0.5 / plan.fps for b in plan.noise if b.modality == "video"]
