"""Write a small `toy` corpus and the truth file the simulated annotators read.

Each recording is one speaker of one latent class, three utterances: two short ones whose mood
code belongs to another class and one long one in the speaker's own mood, so the plugin's
"longest utterance" hook and the default "most frequent" summary disagree (the pre-annotation
shows which one ran). Media are noise and moving texture, so no gap is ever found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.synth.media import write_h264_mp4, write_wav
from edu_affect_data.synth.voice import SAMPLE_RATE

#: The toy corpus's own mood codes, one per class (the pipeline's `preannotation_map` inverts it).
MOODS: dict[str, str] = {"Confused": "puzzled", "Curious": "keen", "Bored": "dull", "Frustrated": "cross"}
DURATION_S = 8.0
FPS = 10.0
SIZE = (80, 64)
#: (start, end, own mood?) of the three utterances of every recording.
UTTERANCES = ((0.3, 1.8, False), (2.1, 3.6, False), (3.9, 7.6, True))


@dataclass(frozen=True)
class ToyCorpus:
    root: Path
    truth: Path
    #: recording id -> (speaker, latent class)
    recordings: dict[str, tuple[str, str]]


def _words(start: float, end: float) -> list[list[object]]:
    words, t, k = [], start, 0
    while t + 0.3 <= end + 1e-9:
        words.append([f"word{k}", round(t, 3), round(min(t + 0.35, end), 3)])
        t += 0.4
        k += 1
    return words


def write_toy_corpus(root: Path, *, speakers_per_class: int = 2, seed: int = 0) -> ToyCorpus:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    units: list[dict[str, object]] = []
    recordings: dict[str, tuple[str, str]] = {}
    for index in range(speakers_per_class * len(CLASSES)):
        latent = CLASSES[index % len(CLASSES)]
        other = CLASSES[(index + 1) % len(CLASSES)]
        rid, speaker = f"rec{index:02d}", f"p{index:02d}"
        recordings[rid] = (speaker, latent)
        entries = []
        for take, (start, end, own) in enumerate(UTTERANCES):
            uid = f"{rid}_{take}"
            entries.append({"id": uid, "start": start, "end": end, "mood": MOODS[latent if own else other],
                            "arousal": round(float(rng.uniform(0, 1)), 3), "words": _words(start, end)})
            units.append({"corpus": "toy", "id": uid, "recording": rid, "speaker": speaker, "emotion": latent,
                          "start_s": start, "end_s": end, "annotated": True})
        (root / f"{rid}.json").write_text(json.dumps({"speaker": speaker, "room": f"room{index % 3}", "utterances": entries}))
        t = np.arange(int(DURATION_S * SAMPLE_RATE)) / SAMPLE_RATE
        audio = 0.1 * np.sin(2 * np.pi * (180 + 20 * index) * t) + 0.02 * rng.standard_normal(t.size)
        write_wav(root / f"{rid}.wav", audio.astype(np.float32))
        frames = (
            (k, rng.integers(40, 220, size=(SIZE[1], SIZE[0], 3), dtype=np.uint8))
            for k in range(int(DURATION_S * FPS))
        )
        write_h264_mp4(root / f"{rid}.mp4", frames, SIZE, FPS, root / f"{rid}.wav", [])
    truth = root.parent / "toy_truth.json"
    truth.write_text(json.dumps({"profile": "toy", "seed": seed, "faults": [], "broken_files": [], "units": units}))
    return ToyCorpus(root, truth, recordings)
