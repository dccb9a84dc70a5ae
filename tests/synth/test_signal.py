"""The latent emotion is learnable: each modality carries the class it expresses."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from edu_affect_data.synth.face import FACES, appearance, backdrop_strip, draw_face
from edu_affect_data.synth.phrasing import PHRASES
from edu_affect_data.synth.profiles import CLASSES
from edu_affect_data.synth.write_iemocap import dialog_paths
from edu_affect_data.synth.write_mosei import video_paths


def _expressed(truth: dict, modality: str) -> dict[tuple[str, str], str]:
    return {
        (e["recording"], e["speaker"]): e["expressed"]
        for e in truth["expression"]
        if e["modality"] == modality
    }


def test_voice_level_separates_the_expressed_audio_classes(tiny_corpora: Path) -> None:
    """Leave-one-recording-out nearest centroid on one prosodic feature, per unit."""
    truth = json.loads((tiny_corpora / "synth_truth.json").read_text())
    broken = {b["recording"] for b in truth["broken_files"] if b["kind"] == "truncated_wav"}
    dropped = {f["recording"] for f in truth["faults"] if f["modality"] == "audio"}
    audio_class = _expressed(truth, "audio")
    rows = []
    cache: dict[str, tuple[np.ndarray, int]] = {}
    for unit in truth["units"]:
        if (
            unit["recording"] in broken | dropped
            or not unit["annotated"]
            or unit["end_s"] - unit["start_s"] < 1.0
        ):
            continue
        rel = (dialog_paths if unit["corpus"] == "iemocap" else video_paths)(unit["recording"])[
            "wav"
        ]
        if rel not in cache:
            cache[rel] = sf.read(tiny_corpora / rel, dtype="float32")
        audio, rate = cache[rel]
        clip = audio[int(unit["start_s"] * rate) : int(unit["end_s"] * rate)]
        frames = clip[: len(clip) // 400 * 400].reshape(-1, 400)
        rms = np.sqrt(np.mean(frames**2, axis=1))
        voiced = rms[rms > 0.01]
        rows.append(
            (
                unit["recording"],
                CLASSES.index(audio_class[(unit["recording"], unit["speaker"])]),
                20 * np.log10(np.median(voiced)),
            )
        )
    recordings = sorted({r for r, _, _ in rows})
    correct = 0
    for held in recordings:
        train = [(c, x) for r, c, x in rows if r != held]
        centroids = {c: np.mean([x for k, x in train if k == c]) for c in {k for k, _ in train}}
        for _, c, x in (row for row in rows if row[0] == held):
            correct += min(centroids, key=lambda k: abs(centroids[k] - x)) == c
    assert len(rows) > 50
    assert correct / len(rows) > 0.6, correct / len(rows)


def test_phrases_reveal_the_expressed_text_class(tiny_corpora: Path) -> None:
    truth = json.loads((tiny_corpora / "synth_truth.json").read_text())
    text_class = _expressed(truth, "text")
    votes: dict[tuple[str, str], list[str]] = {}
    for path in tiny_corpora.glob("CMU_MOSEI/Raw/Transcript/Segmented/Combined/*.txt"):
        for line in path.read_text().splitlines():
            vid, _, _, _, text = line.split("___", 4)
            hits = [
                c for c, phrases in PHRASES.items() for p in phrases if p.lower() in text.lower()
            ]
            votes.setdefault((vid, f"mosei_{vid}"), []).extend(hits)
    for path in tiny_corpora.glob("IEMOCAP_full_release/Session*/dialog/transcriptions/*.txt"):
        for line in path.read_text().splitlines():
            if "]: " not in line:
                continue
            uid, text = line.split(" ", 1)[0], line.split("]: ", 1)[1]
            hits = [
                c for c, phrases in PHRASES.items() for p in phrases if p.lower() in text.lower()
            ]
            votes.setdefault((path.stem, f"Ses{uid[3:5]}_{uid.rsplit('_', 1)[1][0]}"), []).extend(
                hits
            )
    decided = {k: max(set(v), key=v.count) for k, v in votes.items() if len(v) >= 2}
    assert len(decided) >= 8
    assert sum(decided[k] == text_class[k] for k in decided) / len(decided) > 0.9


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
