"""Planted phenomena for the paper's CMAA and TFL claims: evidence only a mechanism can read.

Each unit's expressed classes are independent per modality (plan.py), so nothing in the basic
corpora needs audio and video aligned in time or a state integrated over time: a failed claim
could not tell a broken mechanism from an absent phenomenon. The `claims` profile therefore adds,
designed from the mechanisms before any model was run on them (docs/synthetic.md):

- **Coincidences (CMAA)**: every unit long enough gets a tap and a chime in the audio and a flash
  and a shadow over its speaker's region. Three slots at least `apart_s` apart are drawn inside the
  unit and assigned at random to P, Q, R; one audio and one visual event sit on P (they coincide),
  the other audio event on Q and the other visual event on R, every onset jittered by +-jitter/2.
  Which audio kind and which visual kind share P codes a class (`coincidence_code`). P, Q and R are
  exchangeable, so the times of the audio events alone, or of the visual events alone, have the
  same distribution in every class: only their coincidence carries it.
- **Persistent state (TFL)**: each speaker of a recording has a 2-d state, one value per step of
  `step_s` drawn from a unit normal around a corner of a square (`separation` from the centre on
  each axis; the corner codes a class), shown as the colour of a light band at the top of the
  speaker's region. One step is weak evidence, a session's mean strong.

With `coupled` off (the control profile) the same draws are made and the coded class is random, so
the media carry the same events and bands without class information. Draws come from their own
generators (purposes 10 and 11 of `recording_rng`): a profile without phenomena writes exactly
the files it wrote before they existed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.synth.plan import (
    CoincidencePlan,
    CueEvent,
    RecordingPlan,
    StateTrack,
    recording_rng,
)
from edu_affect_data.synth.profiles import CmaaShape, TflShape
from edu_affect_data.synth.voice import SAMPLE_RATE

AUDIO_KINDS = ("tap", "chime")
VIDEO_KINDS = ("flash", "shadow")
#: Random purposes of recording_rng owned by this module.
CMAA_PURPOSE, TFL_PURPOSE = 10, 11
#: Clearance of the first slot from the unit's start, seconds (the last onset leaves room for the longest event).
LEAD_S = 0.1
#: Peak amplitude of an audio event (voiced speech has an RMS of 0.03-0.12).
EVENT_PEAK = 0.1
#: Grey levels a flash adds to (a shadow takes from) the speaker's region below the band.
LIGHT_LEVELS = 50
#: Height of the state band as a fraction of the region's height, and its grey before the state.
BAND_SHARE, BAND_GREY = 0.12, 128.0


def coincidence_code(coded: str) -> tuple[str, str]:
    """(audio kind, visual kind) that coincide in a unit coding class `coded`: class k pairs
    `AUDIO_KINDS[k // 2]` with `VIDEO_KINDS[k % 2]`."""
    k = CLASSES.index(coded)
    return AUDIO_KINDS[k // 2], VIDEO_KINDS[k % 2]


def class_of_coincidence(audio_kind: str, video_kind: str) -> str:
    return CLASSES[2 * AUDIO_KINDS.index(audio_kind) + VIDEO_KINDS.index(video_kind)]


def state_corner(coded: str, separation: float) -> np.ndarray:
    """(2,) mean of the state for class `coded`: class k at (+-s, +-s), axis 0's sign from k // 2."""
    k = CLASSES.index(coded)
    return separation * np.array([1.0 if k // 2 else -1.0, 1.0 if k % 2 else -1.0])


def _coded(latent: str, coupled: bool, p: float, rng: np.random.Generator) -> str:
    """The latent with probability `p` else another class; uniformly random when not coupled.
    Every draw is made either way, so planted and control corpora share all later draws."""
    keep, other, random = rng.random(), str(rng.choice([c for c in CLASSES if c != latent])), str(rng.choice(CLASSES))
    if not coupled:
        return random
    return latent if keep < p else other


def place_coincidences(plan: RecordingPlan, shape: CmaaShape, p: float, seed: int) -> None:
    """Plan the four events of every unit with room for three slots `apart_s` apart."""
    rng = recording_rng(seed, plan.recording_id, CMAA_PURPOSE)
    tail = max(shape.audio_s, shape.video_s) + shape.jitter_s
    for unit in plan.units:
        first, last = unit.start_s + LEAD_S + shape.jitter_s, unit.end_s - tail
        free = last - first - 2 * shape.apart_s
        if free <= 0:
            continue
        coded = _coded(plan.speaker(unit.speaker_id).latent, shape.coupled, p, rng)
        slots = np.sort(rng.uniform(0, free, 3)) + first + shape.apart_s * np.arange(3)
        where_p, where_q, where_r = slots[rng.permutation(3)]
        jitter = rng.uniform(-shape.jitter_s / 2, shape.jitter_s / 2, 4)
        audio_kind, video_kind = coincidence_code(coded)
        other_audio = next(k for k in AUDIO_KINDS if k != audio_kind)
        other_video = next(k for k in VIDEO_KINDS if k != video_kind)
        onsets = (
            ("audio", audio_kind, where_p + jitter[0], shape.audio_s),
            ("audio", other_audio, where_q + jitter[1], shape.audio_s),
            ("video", video_kind, where_p + jitter[2], shape.video_s),
            ("video", other_video, where_r + jitter[3], shape.video_s),
        )
        events = tuple(
            sorted(
                (CueEvent(m, kind, round(float(t), 4), round(float(t) + length, 4)) for m, kind, t, length in onsets),
                key=lambda e: (e.start_s, e.modality),
            )
        )
        plan.coincidences.append(CoincidencePlan(unit.unit_id, unit.speaker_id, coded, events))


def draw_states(plan: RecordingPlan, shape: TflShape, seed: int) -> None:
    """One state track per speaker covering the whole recording."""
    rng = recording_rng(seed, plan.recording_id, TFL_PURPOSE)
    steps = math.ceil(plan.duration_s / shape.step_s)
    for speaker in plan.speakers:
        coded = _coded(speaker.latent, shape.coupled, 1.0, rng)
        scatter = rng.normal(0.0, 1.0, (steps, 2))
        values = np.round(state_corner(coded, shape.separation) + scatter, 4)
        plan.states.append(StateTrack(speaker.speaker_id, coded, shape.step_s, values, shape.levels))


# ------------------------------------------------------------------------------------ rendering
def event_sound(kind: str, n: int) -> np.ndarray:
    """A tap (a damped low knock) or a chime (a bright two-partial bell), `n` samples, peak `EVENT_PEAK`."""
    t = np.arange(n) / SAMPLE_RATE
    if kind == "tap":
        wave = np.sin(2 * np.pi * 520 * t) * np.exp(-t / 0.05)
    elif kind == "chime":
        wave = (np.sin(2 * np.pi * 2500 * t) + 0.5 * np.sin(2 * np.pi * 3750 * t)) * np.exp(-t / 0.12)
    else:
        raise ValueError(f"unknown audio event kind {kind!r}")
    fade = min(n // 2, round(0.005 * SAMPLE_RATE))
    wave[:fade] *= np.linspace(0, 1, fade)
    wave[n - fade :] *= np.linspace(1, 0, fade)
    return EVENT_PEAK * wave / np.max(np.abs(wave))


def add_audio_events(audio: np.ndarray, plan: RecordingPlan) -> None:
    """Mix every planted audio event into `audio` in place (before noise bursts and dropouts)."""
    for coincidence in plan.coincidences:
        for event in coincidence.events:
            if event.modality == "audio":
                i0 = round(event.start_s * SAMPLE_RATE)
                i1 = min(round(event.end_s * SAMPLE_RATE), len(audio))
                audio[i0:i1] += event_sound(event.kind, i1 - i0).astype(audio.dtype)


def visual_events(plan: RecordingPlan, speaker_id: str) -> list[CueEvent]:
    return [e for c in plan.coincidences if c.speaker_id == speaker_id for e in c.events if e.modality == "video"]


def band_rows(height: int) -> int:
    return max(1, round(BAND_SHARE * height))


def light_region(view: np.ndarray, events: list[CueEvent], t: float, track: StateTrack | None) -> None:
    """The planted light in a speaker's region at `t`, in place, after the face: the state band's
    colour for the step holding `t` (blue from axis 0, red from axis 1) and, below it, the flash or
    shadow of any visual event showing at `t` (the faults' whole-frame rule)."""
    band = band_rows(view.shape[0]) if track is not None else 0
    if track is not None:
        value = track.values[min(int(t / track.step_s), len(track.values) - 1)]
        blue, red = (int(np.clip(round(BAND_GREY + track.levels * v), 0, 255)) for v in value)
        view[:band] = (blue, int(BAND_GREY), red)
    for event in events:
        if event.start_s - 1e-6 <= t < event.end_s - 1e-6:
            change = LIGHT_LEVELS if event.kind == "flash" else -LIGHT_LEVELS
            below = view[band:].astype(np.int16) + change
            view[band:] = np.clip(below, 0, 255).astype(np.uint8)


def truth_entries(plan: RecordingPlan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(coincidences, states) of one recording for `synth_truth.json`."""
    region = {s.speaker_id: s.region for s in plan.speakers}
    coincidences = [
        {
            "corpus": plan.corpus,
            "recording": plan.recording_id,
            "unit": c.unit_id,
            "speaker": c.speaker_id,
            "region": region[c.speaker_id],
            "coded": c.coded,
            "events": [{"modality": e.modality, "kind": e.kind, "start_s": e.start_s, "end_s": e.end_s} for e in c.events],
        }
        for c in plan.coincidences
    ]
    states = [
        {
            "corpus": plan.corpus,
            "recording": plan.recording_id,
            "speaker": s.speaker_id,
            "region": region[s.speaker_id],
            "coded": s.coded,
            "step_s": s.step_s,
            "levels": s.levels,
            "values": s.values.tolist(),
        }
        for s in plan.states
    ]
    return coincidences, states


# ------------------------------------------------------------------------------------ read back
def unit_cue_features(document: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per unit with planted coincidences in a `synth_truth.json` document: feature sets and labels,
    to check the design with any classifier (tests/synth/test_phenomena.py, bench/planted_readability.py).

    Sets: `audio` and `video` (one modality's whole story: which kind comes first, their distance,
    where each sits in the unit, plus the unit's length), `co` (for each audio kind and visual kind,
    whether their onsets lie within `jitter_s`, plus the length) and `length` alone (the phrases of
    each class differ in length, so a unit's length carries a little of its class by itself).
    Labels: the unit's latent class, and the class its coincidence codes.
    """
    window = document["planted"]["cmaa"]["jitter_s"]
    units = {u["id"]: u for u in document["units"]}
    sets: dict[str, list[list[float]]] = {"audio": [], "video": [], "co": [], "length": []}
    latent, coded = [], []
    for c in document["coincidences"]:
        unit = units.get(c["unit"])
        if unit is None:  # a unit swallowed by a transcript hole is spoken but not listed
            continue
        onset = {e["kind"]: e["start_s"] for e in c["events"]}
        start, length = unit["start_s"], unit["end_s"] - unit["start_s"]
        for name, (first, second) in (("audio", AUDIO_KINDS), ("video", VIDEO_KINDS)):
            sets[name].append([float(onset[first] < onset[second]), abs(onset[first] - onset[second]),
                               (onset[first] - start) / length, (onset[second] - start) / length, length])
        sets["co"].append([*(float(abs(onset[a] - onset[v]) <= window + 1e-9) for a in AUDIO_KINDS for v in VIDEO_KINDS), length])
        sets["length"].append([length])
        latent.append(unit["emotion"])
        coded.append(c["coded"])
    return {k: np.array(v) for k, v in sets.items()}, np.array(latent), np.array(coded)


def state_windows(document: dict[str, Any], steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first step's value, mean over the window, latent class) for every disjoint window of `steps`
    steps of every state track: one step's evidence against a session's."""
    latent = {(u["recording"], u["speaker"]): u["emotion"] for u in document["units"]}
    firsts, means, labels = [], [], []
    for track in document["states"]:
        values = np.array(track["values"])
        for k in range(0, len(values) - steps + 1, steps):
            firsts.append(values[k])
            means.append(values[k : k + steps].mean(axis=0))
            labels.append(latent[(track["recording"], track["speaker"])])
    return np.array(firsts), np.array(means), np.array(labels)
