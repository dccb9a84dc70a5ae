"""core.stats: the one bootstrap (scheme, clusters, undefined resamples), Wilson proportions, JSON numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from edu_affect_data.core.stats import (
    BootstrapDistribution,
    Proportion,
    bootstrap,
    format_number,
    json_number,
    resample_weights,
)

# ------------------------------------------------------------------------------ resampling


def test_each_resample_counts_n_uniform_draws_with_replacement() -> None:
    weights = np.concatenate(list(resample_weights(40, 7, seed=3)))
    draws = np.random.default_rng(3).integers(0, 40, (7, 40))  # the textbook bootstrap's indices
    assert weights.shape == (7, 40) and weights.dtype == float
    for row, drawn in zip(weights, draws, strict=True):
        assert np.array_equal(row, np.bincount(drawn, minlength=40))
    assert np.all(weights.sum(axis=1) == 40)


def test_the_resamples_do_not_depend_on_the_block_size() -> None:
    whole = np.concatenate(list(resample_weights(13, 101, seed=5)))
    for block in (1, 7, 100):
        blocks = list(resample_weights(13, 101, seed=5, block=block))
        assert max(len(b) for b in blocks) == block
        assert np.array_equal(np.concatenate(blocks), whole)
    assert not np.array_equal(np.concatenate(list(resample_weights(13, 101, seed=6))), whole)


def test_groups_resample_every_item_of_a_drawn_group_together() -> None:
    speakers = np.array(["s2", "s1", "s2", "s3", "s1", "s2", "s4"])
    weights = np.concatenate(list(resample_weights(len(speakers), 500, seed=1, groups=speakers)))
    for name in np.unique(speakers):
        of_speaker = weights[:, speakers == name]
        assert np.all(of_speaker == of_speaker[:, :1])  # a speaker's sessions share its draw count
    per_speaker = np.stack([weights[:, speakers == name][:, 0] for name in np.unique(speakers)], axis=1)
    assert np.all(per_speaker.sum(axis=1) == 4)  # four speakers drawn per resample, not seven sessions
    assert per_speaker.mean() == pytest.approx(1.0, abs=0.05)  # each speaker drawn once on average
    # One group per item is the item bootstrap itself, draw for draw.
    alone = list(resample_weights(7, 50, seed=1, groups=np.arange(7)))
    assert np.array_equal(np.concatenate(alone), np.concatenate(list(resample_weights(7, 50, seed=1))))


def test_resampling_refuses_nothing_and_misshapen_groups() -> None:
    with pytest.raises(ValueError, match="no items"):
        next(resample_weights(0, 10, seed=0))
    with pytest.raises(ValueError, match="one label per item"):
        next(resample_weights(3, 10, seed=0, groups=["a", "b"]))


# ------------------------------------------------------------------------------- bootstrap


def test_bootstrap_of_a_share_follows_the_binomial() -> None:
    """The mean of 0/1 values with 30 ones in 50 is K/50 on a resample, K ~ Binomial(50, 0.6)."""
    n, ones, resamples = 50, 30, 20000
    values = (np.arange(n) < ones).astype(float)
    result = bootstrap(lambda w: w @ values / n, n, resamples, seed=2)
    assert result.estimate == pytest.approx(0.6) and result.resampled.shape == (resamples,)
    k_low, k_high = stats.binom.ppf([0.025, 0.975], n, ones / n)
    low, high = result.interval()
    assert (k_low - 1) / n <= low <= (k_low + 1) / n
    assert (k_high - 1) / n <= high <= (k_high + 1) / n
    assert result.resampled.mean() == pytest.approx(0.6, abs=0.005)
    assert bootstrap(lambda w: w @ values / n, n, resamples, seed=2).interval() == (low, high)


def test_undefined_resamples_are_left_out_of_interval_and_p() -> None:
    resampled = np.array([np.nan, 1.0, 2.0, np.inf, 3.0, 4.0, np.nan, 5.0])
    distribution = BootstrapDistribution(3.0, resampled)
    assert distribution.undefined == 3
    defined = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert distribution.interval(0.5) == tuple(np.percentile(defined, [25, 75]))
    assert distribution.p_value() == 2 * (0 + 1) / (5 + 1)  # no defined resample at or below 0
    nothing = BootstrapDistribution(1.0, np.full(10, np.nan))
    assert all(math.isnan(v) for v in (*nothing.interval(), nothing.p_value()))


def test_a_statistic_undefined_on_the_sample_has_no_interval() -> None:
    """Resamples that miss the bad item are finite, but the statistic of the sample is not: no interval."""
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])

    def mean(w: np.ndarray) -> np.ndarray:  # undefined exactly when the NaN item is drawn
        return np.where(w[:, 2] > 0, np.nan, w @ np.nan_to_num(values) / len(values))

    result = bootstrap(mean, len(values), 400, seed=0)
    assert math.isnan(result.estimate)
    assert 0 < result.undefined < 400  # some resamples missed the NaN item...
    assert all(math.isnan(v) for v in (*result.interval(), result.p_value()))  # ...and still no interval


def test_an_undefined_resample_is_one_whose_statistic_is_nan() -> None:
    """A kappa-like statistic undefined when a resample holds one category only (here: no item of class 1)."""
    labels = np.array([0] * 18 + [1] * 2)

    def share_of_class_1(w: np.ndarray) -> np.ndarray:
        ones = w @ (labels == 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ones > 0, ones / w.sum(axis=1), np.nan)

    result = bootstrap(share_of_class_1, len(labels), 2000, seed=4)
    assert result.undefined == pytest.approx(2000 * 0.9**20, rel=0.25)  # P(neither class-1 item drawn)
    assert result.interval()[0] > 0  # the degenerate resamples did not pull the interval to 0 or NaN


def test_p_value_inverts_the_percentile_interval() -> None:
    above = BootstrapDistribution(1.0, np.linspace(0.1, 1.0, 999))
    assert above.p_value() == 2 / 1000
    centred = BootstrapDistribution(0.0, np.linspace(-1.0, 1.0, 1001))
    assert centred.p_value() == 1.0
    # 3 % of the resamples at or below 0: the 95 % interval holds 0 and p > 0.05; 1 %: neither.
    straddles = BootstrapDistribution(0.9, np.linspace(-0.06, 1.94, 1001))
    assert straddles.interval()[0] < 0 and straddles.p_value() > 0.05
    clears = BootstrapDistribution(0.9, np.linspace(-0.02, 1.98, 1001))
    assert clears.interval()[0] > 0 and clears.p_value() < 0.05


# ------------------------------------------------------------------------------ proportion


@pytest.mark.parametrize(("count", "n"), [(1, 3), (8, 10), (37, 50), (5, 200), (199, 200)])
def test_proportion_is_statsmodels_wilson(count: int, n: int) -> None:
    share = Proportion.of(count, n)
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    assert (share.ci_low, share.ci_high) == pytest.approx((low, high), abs=1e-15)
    assert share.estimate == count / n and (share.count, share.n) == (count, n)
    assert Proportion.of(count, n, level=0.9).ci_high < share.ci_high


def test_wilson_textbook_value_and_exact_bounds() -> None:
    # 8 of 10 at 95 %: centre (0.8 + z^2/20) / (1 + z^2/10), half-width z sqrt(0.016 + z^2/400) / (1 + z^2/10).
    share = Proportion.of(8, 10)
    assert (share.ci_low, share.ci_high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert (Proportion.of(0, 12).ci_low, Proportion.of(12, 12).ci_high) == (0.0, 1.0)
    assert proportion_confint(12, 12, method="wilson")[1] != 1.0  # the residue Proportion removes
    assert Proportion.of(12, 12).ci_low == pytest.approx(proportion_confint(12, 12, method="wilson")[0])
    empty = Proportion.of(0, 0)
    assert math.isnan(empty.estimate) and math.isnan(empty.ci_low) and math.isnan(empty.ci_high)
    assert empty.to_json() == {"count": 0, "n": 0, "estimate": None, "ci_low": None, "ci_high": None}
    assert str(Proportion.of(3, 4)) == "0.75 [0.30, 0.95] (3/4)"
    with pytest.raises(ValueError, match="0 <= count <= n"):
        Proportion.of(5, 4)


# --------------------------------------------------------------------------------- numbers


def test_json_numbers_are_plain_floats_or_null() -> None:
    values = [np.float32(0.5), np.float64(2.0), 3, np.nan, np.float32("nan"), math.inf, -np.inf, None]
    converted = [json_number(v) for v in values]
    assert converted == [0.5, 2.0, 3.0, None, None, None, None, None]
    assert all(type(v) is float for v in converted[:3])
    assert json.loads(json.dumps(converted)) == converted  # no NaN token reaches the file
    assert (format_number(0.12345), format_number(np.nan), format_number(None), format_number(1.0, 1)) == (
        "0.123", "n/a", "n/a", "1.0",
    )


# ------------------------------------------------------------------------------ cluster t


def test_cluster_t_interval_of_a_mean_is_the_t_test_over_cluster_means() -> None:
    """12 clusters of 4 items: the mean's cluster t interval and p are the one-sample t-test's on the
    12 cluster means (bootstrap SE x sqrt(G/(G-1)) = their standard error), up to Monte-Carlo error."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 4)
    values = rng.normal(0.3, 1.0, 12)[groups] + rng.normal(0.0, 0.5, 48)
    result = bootstrap(lambda w: w @ values / w.sum(axis=1), 48, 20000, seed=1, groups=groups)
    assert result.units == 12
    reference = stats.ttest_1samp(np.bincount(groups, values) / 4, 0.0)
    low, high = reference.confidence_interval(0.95)
    assert result.t_interval() == pytest.approx((low, high), abs=0.02 * (high - low))
    assert result.t_p_value() == pytest.approx(reference.pvalue, rel=0.05)
    # The percentile interval of the same resamples is narrower: what runs hot with few clusters.
    percentile_low, percentile_high = result.interval()
    assert percentile_high - percentile_low < 0.95 * (high - low)


def test_cluster_t_of_a_constant_or_a_single_unit() -> None:
    constant = BootstrapDistribution(0.5, np.full(100, 0.5), units=10)
    assert constant.standard_error() == 0.0 and constant.t_interval() == (0.5, 0.5) and constant.t_p_value() == 0.0
    zero = BootstrapDistribution(0.0, np.zeros(100), units=10)
    assert zero.t_p_value() == 1.0
    one = BootstrapDistribution(0.5, np.linspace(0, 1, 100), units=1)
    assert all(math.isnan(v) for v in (*one.t_interval(), one.t_p_value()))
    unknown = BootstrapDistribution(0.5, np.linspace(0, 1, 100))  # built without its unit count
    assert math.isnan(unknown.standard_error())
    undefined = BootstrapDistribution(math.nan, np.linspace(0, 1, 100), units=10)
    assert all(math.isnan(v) for v in (*undefined.t_interval(), undefined.t_p_value()))
