"""Two equally good models scored on clustered test data: the world of the bootstrap calibration.

`bench/cluster_bootstrap.py` measures with it how often each way of testing "model a scores
differently from model b" rejects at nominal 0.05 when neither model is better (false positives);
`tests/model/test_cluster_calibration.py` runs a small, seeded version of the same measurement.

The world, per replication: `n_speakers` test speakers with `sessions` test sessions each and a
uniformly drawn class per session. A session is predicted correctly with probability
sigmoid(0.5 + u + v_m + e): u ~ N(0, 1) is the speaker's difficulty and e ~ N(0, 0.5) the session's,
both shared by the two models; v_m ~ N(0, 0.8) is how well model m happens to suit that speaker,
drawn from the same distribution for both models, so that over the population of speakers neither
is better while on a finite test set of speakers one usually looks better. A wrong prediction is
another class, uniformly. Each of `seeds` training seeds redraws the predictions. The speaker
terms make the sessions of one speaker dependent, which is what a bootstrap over sessions ignores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from edu_emotionnet.significance import paired_difference
from scipy import stats

from edu_affect_data.core.stats import bootstrap

CLASSES = 4
#: The tests compared, by name: what each resamples and how it reads the distribution.
METHODS = (
    "sessions, percentile",  # the report's test before speakers were known
    "speakers, percentile",  # resamples the right unit, reads it as if clusters were many
    "speakers, cluster t",  # the report's test now (core.stats t_interval / t_p_value)
    "per-speaker means, t-test",  # reference: one-sample t-test on per-speaker mean differences (accuracy)
)


@dataclass(frozen=True)
class ClusteredWorld:
    speakers: np.ndarray  # (N,) speaker of each test session
    labels: np.ndarray  # (S, N) the same labels for every seed
    predicted_a: np.ndarray  # (S, N)
    predicted_b: np.ndarray  # (S, N)


def draw_world(rng: np.random.Generator, n_speakers: int, sessions: int, seeds: int = 3) -> ClusteredWorld:
    """One replication of the world described in the module docstring."""
    n = n_speakers * sessions
    speakers = np.repeat(np.arange(n_speakers), sessions)
    labels = rng.integers(0, CLASSES, n)
    shared = rng.normal(0.0, 1.0, n_speakers)[speakers] + rng.normal(0.0, 0.5, n)

    def model() -> np.ndarray:
        chance = 1.0 / (1.0 + np.exp(-(0.5 + shared + rng.normal(0.0, 0.8, n_speakers)[speakers])))
        right = rng.random((seeds, n)) < chance
        wrong = (labels + rng.integers(1, CLASSES, (seeds, n))) % CLASSES
        return np.where(right, labels, wrong)

    return ClusteredWorld(speakers, np.tile(labels, (seeds, 1)), model(), model())


def p_values(world: ClusteredWorld, metric: str, resamples: int, seed: int) -> dict[str, float]:
    """Each method's two-sided p of "no difference in `metric`" on one world."""
    statistic = paired_difference(world.labels, world.predicted_a, world.predicted_b, metric)
    n = len(world.speakers)
    by_session = bootstrap(statistic, n, resamples, seed)
    by_speaker = bootstrap(statistic, n, resamples, seed, groups=world.speakers)
    correct = (world.predicted_a == world.labels).mean(axis=0) - (world.predicted_b == world.labels).mean(axis=0)
    per_speaker = np.bincount(world.speakers, correct) / np.bincount(world.speakers)
    return {
        "sessions, percentile": by_session.p_value(),
        "speakers, percentile": by_speaker.p_value(),
        "speakers, cluster t": by_speaker.t_p_value(),
        "per-speaker means, t-test": float(stats.ttest_1samp(per_speaker, 0.0).pvalue) if metric == "accuracy" else np.nan,
    }


def rejections(
    n_speakers: int, sessions: int, metric: str, replications: int, resamples: int, seed: int, alpha: float = 0.05
) -> Iterator[dict[str, bool]]:
    """Per replication, whether each method rejects at `alpha` (worlds and resamples seeded from `seed`)."""
    rng = np.random.default_rng([seed, n_speakers, sessions])
    for replication in range(replications):
        found = p_values(draw_world(rng, n_speakers, sessions), metric, resamples, seed=replication)
        yield {method: bool(p < alpha) for method, p in found.items()}


def false_positive_rates(
    n_speakers: int, sessions: int, metric: str, replications: int, resamples: int, seed: int = 0
) -> dict[str, float]:
    """Share of replications each method rejects in (NaN for the accuracy-only reference on macro-F1)."""
    counts = dict.fromkeys(METHODS, 0)
    for rejected in rejections(n_speakers, sessions, metric, replications, resamples, seed):
        for method, hit in rejected.items():
            counts[method] += hit
    reference_defined = metric == "accuracy"
    return {m: (c / replications if reference_defined or m != METHODS[-1] else np.nan) for m, c in counts.items()}
