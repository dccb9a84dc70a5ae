"""The corpora's own labels for synthetic units, correlated with the latent emotion.

A re-annotation of IEMOCAP/MOSEI into learner emotions finds the old labels related, not equal:
Frustrated turns were mostly `fru`/`ang`, Bored ones `neu`/`sad`, Curious ones `exc`/`hap`/`sur`,
Confused ones `neu`/`fru`/`xxx`/`sur`. The tables below encode that, so pre-annotation and the
label-correlation reports have something real to find without the source labels being the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: P(consensus code | latent emotion).
CONSENSUS: dict[str, dict[str, float]] = {
    "Frustrated": {"fru": 0.5, "ang": 0.25, "neu": 0.1, "xxx": 0.1, "sad": 0.05},
    "Bored": {"neu": 0.45, "sad": 0.3, "xxx": 0.15, "fru": 0.05, "oth": 0.05},
    "Curious": {"exc": 0.35, "hap": 0.25, "sur": 0.15, "neu": 0.1, "xxx": 0.15},
    "Confused": {"neu": 0.3, "fru": 0.2, "xxx": 0.3, "sur": 0.15, "fea": 0.05},
}

WORDS: dict[str, str] = {
    "neu": "Neutral",
    "hap": "Happiness",
    "sad": "Sadness",
    "ang": "Anger",
    "exc": "Excited",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}

#: Mean (valence, activation, dominance) on IEMOCAP's 1-5 scale per latent emotion.
VAD_MEAN: dict[str, tuple[float, float, float]] = {
    "Frustrated": (1.8, 3.8, 3.2),
    "Bored": (2.6, 1.8, 2.4),
    "Curious": (3.9, 3.4, 3.0),
    "Confused": (2.7, 2.8, 2.0),
}

#: Mean MOSEI columns (sentiment, happy, sad, anger, surprise, disgust, fear) per latent emotion.
MOSEI_MEAN: dict[str, tuple[float, ...]] = {
    "Frustrated": (-1.3, 0.1, 0.6, 1.4, 0.1, 0.6, 0.2),
    "Bored": (-0.4, 0.2, 1.0, 0.2, 0.0, 0.3, 0.1),
    "Curious": (1.3, 1.4, 0.1, 0.0, 0.9, 0.0, 0.1),
    "Confused": (-0.2, 0.3, 0.3, 0.3, 0.8, 0.1, 0.6),
}

COMMENTS: tuple[str, ...] = ("", "", "", "sighs", "laughs", "sarcastic", "hesitant")


@dataclass(frozen=True)
class CategoricalVote:
    name: str  # C-E1, C-F1, ...
    labels: tuple[str, ...]  # full words; may be empty
    comment: str


@dataclass(frozen=True)
class DimensionalVote:
    name: str  # A-E1, A-M1, ...
    vad: tuple[int, int, int]
    comment: str


@dataclass(frozen=True)
class IemocapLabels:
    code: str
    vad: tuple[float, float, float]
    categorical: tuple[CategoricalVote, ...]
    dimensional: tuple[DimensionalVote, ...]


def _pick(table: dict[str, float], rng: np.random.Generator) -> str:
    keys = list(table)
    return str(rng.choice(keys, p=np.array([table[k] for k in keys])))


def iemocap_labels(latent: str, letter: str, rng: np.random.Generator) -> IemocapLabels:
    """Consensus code, evaluator votes and V/A/D for one utterance spoken by actor `letter`."""
    code = _pick(CONSENSUS[latent], rng)
    evaluators = sorted(rng.choice([1, 2, 3, 4], size=3, replace=False).tolist())
    votes: list[CategoricalVote] = []
    for k in evaluators:
        if code == "xxx":
            first = str(rng.choice(list(WORDS.values())))
        else:
            agrees = rng.random() < 0.8
            first = WORDS[code] if agrees else str(rng.choice(list(WORDS.values())))
        labels: tuple[str, ...] = (first,)
        roll = rng.random()
        if roll < 0.15:
            second = str(rng.choice(list(WORDS.values())))
            labels = (first, second) if second != first else labels
        elif roll < 0.2:
            labels = ()
        votes.append(CategoricalVote(f"C-E{k}", labels, str(rng.choice(COMMENTS))))
    self_label = WORDS.get(code, "Neutral") if rng.random() < 0.6 else "Neutral"
    votes.append(CategoricalVote(f"C-{letter}1", (self_label,), str(rng.choice(COMMENTS))))
    mean = np.array(VAD_MEAN[latent])
    dims: list[DimensionalVote] = []
    for k in sorted(rng.choice([1, 2, 3, 4], size=2, replace=False).tolist()):
        v, a, d = np.clip(np.rint(mean + rng.normal(0, 0.7, 3)), 1, 5).astype(int).tolist()
        dims.append(DimensionalVote(f"A-E{k}", (v, a, d), str(rng.choice(COMMENTS))))
    v, a, d = np.clip(np.rint(mean + rng.normal(0, 0.7, 3)), 1, 5).astype(int).tolist()
    dims.append(DimensionalVote(f"A-{letter}1", (v, a, d), str(rng.choice(COMMENTS))))
    averages = np.mean([dv.vad for dv in dims[:-1]], axis=0)
    vad = (float(averages[0]), float(averages[1]), float(averages[2]))
    return IemocapLabels(code, vad, tuple(votes), tuple(dims))


def mosei_labels(latent: str, rng: np.random.Generator, *, out_of_range: bool) -> tuple[float, ...]:
    """The 7 MOSEI columns as the mean of three raters (steps of 1/3), optionally one out of range."""
    mean = np.array(MOSEI_MEAN[latent])
    raters = mean + rng.normal(0, 0.8, (3, 7))
    raters[:, 0] = np.clip(np.rint(raters[:, 0]), -3, 3)
    raters[:, 1:] = np.clip(np.rint(raters[:, 1:]), 0, 3)
    values = raters.mean(axis=0)
    if out_of_range:
        column = int(rng.integers(0, 7))
        values[column] = 3.0 + 1 / 3 if column == 0 else -1 / 3
    return tuple(round(float(x), 6) for x in values)
