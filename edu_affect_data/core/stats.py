"""The statistics every report shares: the bootstrap, a proportion with its Wilson interval, JSON numbers.

**The bootstrap.** A resample is a vector of multiplicities, one per item (how often the item was
drawn), so a statistic written as a function of weighted sums evaluates a whole block of resamples
as one matrix product: the agreement report (sessions) and the model's paired tests (test
sessions) both do. `resample_weights` draws them; `bootstrap` evaluates a statistic on them.

- *Random scheme*: each resample draws its units uniformly with replacement
  (``Generator.integers``) and counts them, which is the textbook bootstrap; the stream does not
  depend on the block size (memory only), so one seed gives the same resamples however they are
  blocked.
- *Clusters*: ``groups`` gives each item the unit it is resampled with (a speaker, so that all
  of a speaker's sessions come or go together). Without it every item is its own unit.
- *Two intervals from one distribution.* The **percentile** interval (`interval`, `p_value`) is
  the agreement report's. The **cluster t** interval (`t_interval`, `t_p_value`) is the one for
  few resampling units, which every model comparison uses: the bootstrap standard error, scaled
  by sqrt(G/(G-1)) (the usual small-sample factor of a cluster-robust variance), against Student's
  t with G-1 degrees of freedom, G the number of units. Why: over G clusters the bootstrap
  distribution is too narrow by about (G-1)/G in variance and its normal-like tails are too thin
  for G-1 degrees of freedom, so the percentile interval runs hot exactly where clusters are few
  (simulated, two equally good models, nominal 0.05: 0.10 false positives at 8 speakers, 0.07 at
  40; `bench/cluster_bootstrap.py`). For a mean over equal-sized clusters the t interval is the
  one-sample t-test over the per-cluster means, up to Monte-Carlo error.
- *Undefined statistics*: a resample on which the statistic is undefined (NaN: the kappa of
  resampled sessions that all carry one label) is left out of the interval and of the p-value;
  both are those of the statistic where it is defined. Counting such a resample as any value would
  invent one, and letting it poison the interval would make every interval of a small annotation
  round undefined because a few of 1000 resamples are degenerate. When the statistic is
  undefined on the sample itself, its interval and p-value are undefined too (the estimate is
  part of every `BootstrapDistribution`, so no caller can forget this): resamples that happen to
  miss the offending item (a NaN value) would otherwise yield an interval for a statistic that
  has no estimate. How many resamples were left out is `BootstrapDistribution.undefined`.

**Proportions** carry the Wilson score interval (statsmodels), exactly 0 or 1 at the boundary.

**JSON numbers**: JSON has no NaN or infinity; an undefined statistic is written as null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

#: Confidence level of every interval unless a caller says otherwise.
LEVEL = 0.95
#: Resamples drawn at a time: bounds the (block, items) weight matrix; results do not depend on it.
RESAMPLE_BLOCK = 1000


# --------------------------------------------------------------------------------- bootstrap
def resample_weights(
    n_items: int,
    resamples: int,
    seed: int | np.random.Generator,
    *,
    groups: ArrayLike | None = None,
    block: int = RESAMPLE_BLOCK,
) -> Iterator[np.ndarray]:
    """Blocks of (b, n_items) float multiplicities: row r says how often each item is in resample r.

    Each resample draws as many units as there are, uniformly with replacement. ``groups`` (one
    label per item, any hashable values) makes the units groups of items: a drawn group brings
    every one of its items, so an item's multiplicity is its group's draw count. Without it each
    item is its own unit. Blocks hold at most ``block`` resamples.
    """
    if n_items < 1:
        raise ValueError("nothing to resample: no items")
    unit_of: np.ndarray | None = None  # None: item i is unit i
    if groups is not None:
        labels = np.asarray(groups)
        if labels.shape != (n_items,):
            raise ValueError(f"groups: one label per item expected ({n_items}), got shape {labels.shape}")
        unit_of = np.unique(labels, return_inverse=True)[1].reshape(n_items)
    n_units = n_items if unit_of is None else int(unit_of.max()) + 1
    rng = np.random.default_rng(seed)
    for first in range(0, resamples, block):
        b = min(block, resamples - first)
        drawn = rng.integers(0, n_units, (b, n_units))
        rows = np.arange(b)[:, None] * n_units
        counts = np.bincount((rows + drawn).ravel(), minlength=b * n_units).reshape(b, n_units)
        yield (counts if unit_of is None else counts[:, unit_of]).astype(float)


def count_units(n_items: int, groups: ArrayLike | None = None) -> int:
    """How many resampling units `resample_weights` draws from: the distinct groups, else the items."""
    return n_items if groups is None else len(np.unique(np.asarray(groups)))


@dataclass(frozen=True)
class BootstrapDistribution:
    """A statistic on the sample (``estimate``) and on each resample (``resampled``, NaN where undefined).

    ``units``: how many units each resample drew (clusters, or items without clusters); the cluster
    t interval needs it, the percentile interval does not.
    """

    estimate: float
    resampled: np.ndarray
    units: int | None = None

    @property
    def defined(self) -> np.ndarray:
        """The resampled values where the statistic is defined (finite)."""
        values = np.asarray(self.resampled, dtype=float).ravel()
        return values[np.isfinite(values)]

    @property
    def undefined(self) -> int:
        """How many resamples are left out because the statistic is undefined on them."""
        return int(np.size(self.resampled)) - len(self.defined)

    def _usable(self) -> np.ndarray | None:
        defined = self.defined
        return defined if math.isfinite(self.estimate) and len(defined) else None

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """Percentile interval of the defined resamples; NaN when the estimate or every resample is undefined."""
        defined = self._usable()
        if defined is None:
            return math.nan, math.nan
        tail = 100.0 * (1.0 - level) / 2.0
        low, high = np.percentile(defined, [tail, 100.0 - tail])
        return float(low), float(high)

    def p_value(self) -> float:
        """Two-sided p of "the statistic is 0": twice the smaller tail of the defined resamples at 0.

        The p-value that inverts the percentile interval (p < 1 - level exactly when the interval
        leaves 0 out, up to ties), with the +1 of a Monte-Carlo p so that it is never exactly 0.
        NaN when the estimate or every resample is undefined.
        """
        defined = self._usable()
        if defined is None:
            return math.nan
        below, above = int(np.sum(defined <= 0)), int(np.sum(defined >= 0))
        return min(1.0, 2 * (min(below, above) + 1) / (len(defined) + 1))

    def standard_error(self) -> float:
        """Bootstrap standard error times sqrt(G/(G-1)); NaN when undefined or with fewer than 2 units."""
        defined = self._usable()
        if defined is None or self.units is None or self.units < 2 or len(defined) < 2:
            return math.nan
        if np.all(defined == defined[0]):  # exactly 0, not a rounding residue of equal values
            return 0.0
        return float(np.std(defined, ddof=1) * math.sqrt(self.units / (self.units - 1)))

    def t_interval(self, level: float = LEVEL) -> tuple[float, float]:
        """``estimate`` +- t(G-1) quantile x `standard_error` (see the module docstring); NaN when undefined."""
        se = self.standard_error()
        if not math.isfinite(se):
            return math.nan, math.nan
        assert self.units is not None  # a finite standard error needs them
        half = float(scipy_stats.t.ppf(0.5 + level / 2.0, self.units - 1)) * se
        return self.estimate - half, self.estimate + half

    def t_p_value(self) -> float:
        """Two-sided p of "the statistic is 0" against t(G-1): p < 1 - level exactly when `t_interval` leaves 0 out.

        A statistic equal on every resample (standard error 0) has p 1 when it is 0 and 0 otherwise.
        """
        se = self.standard_error()
        if not math.isfinite(se):
            return math.nan
        if se == 0.0:
            return 1.0 if self.estimate == 0.0 else 0.0
        assert self.units is not None
        return float(2.0 * scipy_stats.t.sf(abs(self.estimate) / se, self.units - 1))


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n_items: int,
    resamples: int,
    seed: int | np.random.Generator,
    *,
    groups: ArrayLike | None = None,
) -> BootstrapDistribution:
    """``statistic(weights)`` -> (b,) for (b, n_items) multiplicities, on the sample and on every resample.

    The estimate is the statistic with every item once (weights all 1); the resamples come from
    `resample_weights` (same ``seed`` and ``groups`` meaning).
    """
    estimate = float(np.asarray(statistic(np.ones((1, n_items))), dtype=float).reshape(-1)[0])
    blocks = [np.asarray(statistic(weights), dtype=float).reshape(-1)
              for weights in resample_weights(n_items, resamples, seed, groups=groups)]
    return BootstrapDistribution(estimate, np.concatenate(blocks), count_units(n_items, groups))


# -------------------------------------------------------------------------------- proportion
@dataclass(frozen=True)
class Proportion:
    """``count`` of ``n`` with its Wilson score interval (NaN when ``n`` is 0)."""

    count: int
    n: int
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, count: int, n: int, level: float = LEVEL) -> Proportion:
        """Wilson rather than the normal (Wald) interval: it stays inside [0, 1] and keeps its
        coverage near 0 and 1 and for the few dozen votes of a window or a gold set.

        At 0/n and n/n the Wilson bound is exactly 0 or 1; statsmodels leaves a 1e-17 residue,
        which would print as 0.99999... in the JSON, so the bound is set exactly.
        """
        if n == 0:
            return cls(0, 0, math.nan, math.nan)
        if not 0 <= count <= n:
            raise ValueError(f"a proportion needs 0 <= count <= n, got {count} of {n}")
        low, high = proportion_confint(count, n, alpha=1.0 - level, method="wilson")
        return cls(int(count), int(n), 0.0 if count == 0 else float(low), 1.0 if count == n else float(high))

    @property
    def estimate(self) -> float:
        return self.count / self.n if self.n else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "n": self.n,
            "estimate": json_number(self.estimate),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
        }

    def __str__(self) -> str:
        return (
            f"{format_number(self.estimate, 2)} [{format_number(self.ci_low, 2)}, "
            f"{format_number(self.ci_high, 2)}] ({self.count}/{self.n})"
        )


# ------------------------------------------------------------------------------------ numbers
def json_number(value: float | np.floating[Any] | None) -> float | None:
    """A plain float for JSON, or None (null) for an undefined one: JSON has no NaN or infinity."""
    return None if value is None or not math.isfinite(value) else float(value)


def format_number(value: float | None, digits: int = 3) -> str:
    """``digits`` decimals, or n/a for an undefined statistic."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"
