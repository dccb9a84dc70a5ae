"""The latent emotion is learnable: each unit shows its expressed class in every modality, and a
few units of one speaker together reveal the latent class better than any one modality."""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.media.frames import region_pixels
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.face import FACES, appearance, backdrop_strip, draw_face
from edu_affect_data.synth.profiles import TINY
from edu_affect_data.synth.render import render_audio, render_frames
from edu_affect_data.synth.voice import SAMPLE_RATE

#: Units per session of the session-level check (the demo's 12-s sessions hold 2-4 units).
SESSION_UNITS = 3


def _audio_features(clip: np.ndarray, rate: int) -> np.ndarray:
    """Spectral centroid and syllable (envelope modulation) rate of the voiced frames: cues that
    survive level normalisation."""
    frames = clip[: len(clip) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    voiced = frames[rms > 0.01]
    spectrum = np.abs(np.fft.rfft(voiced * np.hanning(160), axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(160, 1 / rate)
    centroid = float((spectrum * freqs).sum() / spectrum.sum())
    envelope = rms - rms.mean()
    modulation = np.abs(np.fft.rfft(envelope * np.hanning(len(envelope)), n=1024))
    mod_freqs = np.fft.rfftfreq(1024, 0.01)
    band = (mod_freqs > 1.0) & (mod_freqs < 10.0)
    peak = float(mod_freqs[band][np.argmax(modulation[band])])
    return np.array([centroid / 100, peak])


def _face_crop(frame: np.ndarray, region: str) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(region_pixels(frame, region)), cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) / (small.std() + 1e-6)


def _text_class(text: str, bank: Mapping[str, Sequence[str]]) -> str | None:
    """The class whose phrases in the speaker's bank (class -> phrases) the text says most."""
    hits = [c for c in CLASSES for p in bank[c] if p.lower() in text.lower()]
    return max(set(hits), key=hits.count) if hits else None


@pytest.fixture(scope="module")
def observed() -> list[dict]:
    """Per annotated unit of the tiny plan, rendered without faults: its truth, text and simple
    audio and video features of what the renderer made of it."""
    corpus = design_corpora(TINY, 1)
    rows = []
    for plan in corpus.recordings:
        plan.faults = []
        audio = render_audio(plan, corpus.seed)
        units = [u for u in plan.units if u.annotated and u.end_s - u.start_s >= 1.0]
        middles = {u.unit_id: int((u.start_s + u.end_s) / 2 * plan.fps) for u in units}
        wanted = set(middles.values())
        # The renderer reuses its frame buffer: keep copies of the frames needed.
        frames = {i: f.copy() for i, f in render_frames(plan, corpus.seed) if i in wanted}
        for unit in units:
            clip = audio[int(unit.start_s * SAMPLE_RATE) : int(unit.end_s * SAMPLE_RATE)]
            middle = frames[middles[unit.unit_id]]
            rows.append(
                {
                    "recording": plan.recording_id,
                    "speaker": unit.speaker_id,
                    "emotion": plan.speaker(unit.speaker_id).latent,
                    "expressed": unit.expressed,
                    "text": unit.text,
                    "bank": corpus.phrase_banks[unit.speaker_id].classes,
                    "audio_x": _audio_features(clip, SAMPLE_RATE),
                    "video_x": _face_crop(middle, plan.speaker(unit.speaker_id).region).ravel(),
                }
            )
    return rows


def _leave_one_recording_out(rows: list[dict], modality: str) -> list[str]:
    """Nearest class centroid of the features, trained on the other recordings' expressed classes."""
    x = np.array([r[f"{modality}_x"] for r in rows])
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    guesses = []
    for i, row in enumerate(rows):
        train = [j for j, r in enumerate(rows) if r["recording"] != row["recording"]]
        centroids = {
            c: x[[j for j in train if rows[j]["expressed"][modality] == c]].mean(axis=0)
            for c in CLASSES
        }
        guesses.append(min(centroids, key=lambda c: float(np.sum((centroids[c] - x[i]) ** 2))))
    return guesses


@pytest.fixture(scope="module")
def predicted(observed: list[dict]) -> dict[str, list[str | None]]:
    return {
        "audio": list(_leave_one_recording_out(observed, "audio")),
        "video": list(_leave_one_recording_out(observed, "video")),
        "text": [_text_class(r["text"], r["bank"]) for r in observed],
    }


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["audio", "video"])
def test_each_unit_shows_its_expressed_class(
    observed: list[dict], predicted: dict[str, list[str | None]], modality: str
) -> None:
    """Leave-one-recording-out nearest centroid on a few simple features, per unit."""
    assert len(observed) > 80
    truth = [r["expressed"][modality] for r in observed]
    accuracy = np.mean([g == t for g, t in zip(predicted[modality], truth, strict=True)])
    assert accuracy > 0.6, (modality, accuracy)


def test_phrases_reveal_each_units_expressed_text_class(
    tiny_corpora: Path, text_of: dict[str, str]
) -> None:
    truth = json.loads((tiny_corpora / "synth_truth.json").read_text())
    units = [u for u in truth["units"] if u["annotated"] and u["id"] in text_of]
    assert len(units) > 50
    banks = truth["text"]["banks"]
    right = sum(_text_class(text_of[u["id"]], banks[u["speaker"]]) == u["expressed"]["text"] for u in units)
    assert right / len(units) > 0.95


@pytest.mark.slow
def test_a_session_of_a_few_units_reveals_the_latent_class(
    observed: list[dict], predicted: dict[str, list[str | None]]
) -> None:
    """Windows of consecutive units of one speaker: each modality's vote over the window finds the
    latent class above chance, all modalities together clearly better than one."""
    windows: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for i, row in enumerate(observed):
        windows[(row["recording"], row["speaker"])].append(i)
    sessions = [
        members[k : k + SESSION_UNITS]
        for members in windows.values()
        for k in range(0, len(members) - SESSION_UNITS + 1, SESSION_UNITS)
    ]
    assert len(sessions) >= 20

    def vote(session: list[int], modalities: tuple[str, ...]) -> bool:
        votes = collections.Counter(
            predicted[m][i] for m in modalities for i in session if predicted[m][i] is not None
        )
        best = max(votes.values())
        latent = observed[session[0]]["emotion"]
        return votes[latent] == best and list(votes.values()).count(best) == 1

    single = {m: np.mean([vote(s, (m,)) for s in sessions]) for m in ("audio", "video", "text")}
    fused = np.mean([vote(s, ("audio", "video", "text")) for s in sessions])
    assert all(v > 0.35 for v in single.values()), single
    assert fused > max(single.values()) and fused > 0.6, (fused, single)


def test_faces_of_different_classes_look_different() -> None:
    """Same person, held-out times: the face crop nearest a class's mean crop is of that class."""
    look = appearance(np.random.default_rng(3))
    strip = backdrop_strip(160, 120, look)

    def face_crop(style: str, t: float) -> np.ndarray:
        region = strip[:, :160].copy()
        draw_face(region, FACES[style], look, t, speaking=0.0)
        ys, xs = np.nonzero(np.all(region == np.array(look.skin, dtype=np.uint8), axis=2))
        crop = region[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        return cv2.resize(crop, (40, 48), interpolation=cv2.INTER_AREA).astype(np.float32)

    means = {c: np.mean([face_crop(c, t) for t in np.linspace(0, 10, 40)], axis=0) for c in CLASSES}
    tests = [(c, face_crop(c, t)) for c in CLASSES for t in np.linspace(10.3, 20, 15)]
    correct = sum(min(means, key=lambda k: np.abs(means[k] - x).mean()) == c for c, x in tests)
    assert correct / len(tests) > 0.9
