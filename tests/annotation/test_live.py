"""Live agreement and the drift flag (``annotation.live``) on hand-made vote tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from sklearn.metrics import cohen_kappa_score

from edu_affect_data.annotation.agreement import compute_agreement
from edu_affect_data.annotation.estimators import VotesTableError
from edu_affect_data.annotation.live import live_agreement, plot_agreement_over_time, score_votes
from edu_affect_data.annotation.options import DriftConfig
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

COLUMNS = ["session_id", "annotator", "label", "annotation_id"]
Z95 = 1.959963984540054


def wilson(count: int, n: int) -> tuple[float, float]:
    """The Wilson score interval by its textbook formula (Wilson 1927)."""
    p = count / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def campaign(
    seed: int, accuracy: dict[str, float], sessions: int, drift: tuple[str, int, float] | None = None
) -> pd.DataFrame:
    """Every annotator votes on every session, one session after the other (annotation ids in that order).

    Each is right with their accuracy, else picks a wrong class uniformly; ``drift`` = (annotator,
    after, accuracy): that annotator's accuracy from their vote ``after`` + 1 on.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(sessions):
        truth = int(rng.integers(len(CLASSES)))
        for name, right in accuracy.items():
            if drift is not None and name == drift[0] and s >= drift[1]:
                right = drift[2]
            wrong = [k for k in range(len(CLASSES)) if k != truth]
            label = truth if rng.random() < right else int(rng.choice(wrong))
            rows.append((f"s{s:04d}", name, CLASSES[label], len(rows) + 1))
    return pd.DataFrame(rows, columns=COLUMNS)


def first_sessions(votes: pd.DataFrame, n: int) -> pd.DataFrame:
    """The campaign as it stood after its first ``n`` sessions (all of them complete)."""
    return votes[votes["session_id"] < f"s{n:04d}"]


def live_at(votes: pd.DataFrame, drift: DriftConfig) -> list[str]:
    return live_agreement(votes, complete=set(votes["session_id"]), drift=drift, n_boot=0).flagged


TINY = pd.DataFrame(
    [
        ("s1", "A", "Bored", 1), ("s1", "B", "Bored", 2), ("s1", "C", "Bored", 3),
        ("s2", "A", "Bored", 4), ("s2", "B", "Curious", 5), ("s2", "C", "Curious", 6),
        ("s3", "A", "Confused", 7), ("s3", "B", ABSTAIN, 8), ("s3", "C", "Confused", 9),
        ("s4", "A", "Frustrated", 10), ("s4", "B", "Frustrated", 11),
        ("s5", "A", "Bored", 12), ("s5", "B", "Bored", 13), ("s5", "C", "Bored", 14),
        ("s6", "A", "Curious", 15),
    ],
    columns=COLUMNS,
)


def test_agreement_with_the_majority_of_the_others_counts_exactly() -> None:
    # s5 is still collecting votes (not complete), so nothing on it is scored. A on s2: the others
    # agree on Curious -> scored, disagrees. B and C on s2: the others split -> no reference. s3:
    # B abstained (never scored); for A and C the others are one class vote against one
    # "Cannot tell", no strict majority. s4 ends at two ratings: the reference is the other vote.
    # s6 has no other vote.
    live = live_agreement(TINY, complete={"s1", "s2", "s3", "s4", "s6"}, drift=DriftConfig(), n_boot=0)
    people = {a.annotator: a for a in live.annotators}
    assert {n: (p.majority.count, p.majority.n) for n, p in people.items()} == {"A": (2, 3), "B": (2, 2), "C": (1, 1)}
    assert {n: (p.votes, p.abstentions) for n, p in people.items()} == {"A": (6, 0), "B": (5, 1), "C": (4, 0)}
    low, high = wilson(2, 3)
    assert people["A"].majority.ci_low == pytest.approx(low) and people["A"].majority.ci_high == pytest.approx(high)
    assert people["A"].majority.estimate == pytest.approx(2 / 3)
    scored = score_votes(TINY, complete={"s1", "s2", "s3", "s4", "s6"})
    assert scored.loc[(scored["session_id"] == "s2") & (scored["annotator"] == "A"), "reference"].item() == "Curious"
    assert scored.loc[scored["session_id"] == "s5", "reference"].tolist() == ["Bored"] * 3
    assert not scored.loc[scored["session_id"] == "s5", "scored"].any()
    # The scored votes, in time order, as the plot draws them.
    assert live.votes.loc[live.votes["scored"], "position"].tolist() == [0, 1, 2, 3, 9, 10]
    # A's votes: Bored on s1, s2, s5 (3 of 6); the others' 9 votes hold 4 Bored and 1 "Cannot tell".
    shares = {share.label: share for share in people["A"].classes}
    assert (shares["Bored"].annotator.count, shares["Bored"].annotator.n) == (3, 6)
    assert shares["Bored"].pool == pytest.approx(4 / 9) and shares[ABSTAIN].pool == pytest.approx(1 / 9)
    assert shares[ABSTAIN].annotator.count == 0 and [s.label for s in people["A"].classes] == [*CLASSES, ABSTAIN]
    low, high = wilson(3, 6)
    assert (shares["Bored"].annotator.ci_low, shares["Bored"].annotator.ci_high) == pytest.approx((low, high))
    # Too few votes for the drift test: said, not flagged.
    assert not people["A"].drift.tested and "6 votes; needs 50" in people["A"].drift.note
    assert live.flagged == []


def test_live_pairwise_kappas_are_the_post_hoc_ones() -> None:
    votes = campaign(7, {"ann01": 0.9, "ann02": 0.7, "ann03": 0.6}, 40)
    votes = votes.drop(index=votes.index[::7])  # some sessions end with two ratings
    live = live_agreement(votes, complete=set(votes["session_id"]), drift=DriftConfig(), seed=3, n_boot=200, min_votes=2)
    report = compute_agreement(votes[["session_id", "annotator", "label"]], seed=3, n_boot=200, min_votes=2)
    assert live.pairwise == report.cohen_kappa_pairwise and live.kappa_mean == report.cohen_kappa_mean
    assert all(math.isfinite(p.ci_low) and p.ci_low < p.kappa < p.ci_high for p in live.pairwise)
    wide = votes.pivot(index="session_id", columns="annotator", values="label").dropna(subset=["ann01", "ann02"])
    first = live.pairwise[0]
    assert (first.a, first.b, first.n) == ("ann01", "ann02", len(wide))
    assert first.kappa == pytest.approx(cohen_kappa_score(wide["ann01"], wide["ann02"]))
    mean = {a.annotator: a.mean_kappa for a in live.annotators}
    assert mean["ann02"] == pytest.approx((live.pairwise[0].kappa + live.pairwise[2].kappa) / 2)


@pytest.mark.parametrize("seed", range(5))
def test_a_drifting_annotator_is_flagged_within_a_window_of_votes_after_the_drop(seed: int) -> None:
    drift = DriftConfig()  # window 30, 20 earlier votes, alpha 0.01
    after = 40
    votes = campaign(seed, {"ann01": 0.9, "ann02": 0.85, "ann03": 0.9}, 150, drift=("ann03", after, 0.3))
    assert live_at(first_sessions(votes, after), drift) == []
    live = live_agreement(first_sessions(votes, after + drift.window), complete=set(votes["session_id"]), drift=drift, n_boot=0)
    assert live.flagged == ["ann03"]
    verdict = next(a.drift for a in live.annotators if a.annotator == "ann03")
    assert verdict.tested and {t.comparison for t in verdict.tests} == {"earlier", "pool"}
    for test in verdict.fired:
        assert test.p_holm <= drift.alpha and test.p_value <= test.p_holm
        assert test.recent.estimate < test.reference.estimate
    assert verdict.describe().startswith("DRIFT over the last 30 votes: recent")
    # Each annotator's drift window is their last 30 votes, so the drifter's holds only votes after the drop.
    assert all(t.recent.n <= drift.window for t in verdict.tests)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_nobody_is_flagged_in_a_campaign_without_drift(seed: int) -> None:
    drift = DriftConfig()
    votes = campaign(seed, {"ann01": 0.85, "ann02": 0.85, "ann03": 0.85}, 150)
    for sessions in (60, 100, 150):
        live = live_agreement(first_sessions(votes, sessions), complete=set(votes["session_id"]), drift=drift, n_boot=0)
        assert live.flagged == []
        assert all(a.drift.tested and len(a.drift.tests) == 2 for a in live.annotators)


def test_holm_runs_over_every_test_and_an_empty_campaign_has_no_statistics(tmp_path) -> None:
    votes = campaign(1, {"ann01": 0.9, "ann02": 0.85, "ann03": 0.9}, 100, drift=("ann03", 40, 0.3))
    live = live_agreement(votes, complete=set(votes["session_id"]), drift=DriftConfig(), n_boot=0)
    tests = [t for a in live.annotators for t in a.drift.tests]
    ranked = sorted(t.p_value for t in tests)
    holm = np.maximum.accumulate([min(1.0, (len(ranked) - i) * p) for i, p in enumerate(ranked)])
    assert sorted(t.p_holm for t in tests) == pytest.approx(list(holm))
    document = live.to_json()
    assert document["flagged"] == ["ann03"] and len(document["pairwise_kappa"]) == 3
    png = plot_agreement_over_time(live, tmp_path / "status" / "agreement_over_time.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and imread(png).shape[2] == 4

    empty = live_agreement(votes.iloc[:0], complete=set(), drift=DriftConfig())
    assert (empty.annotators, empty.pairwise, empty.kappa_mean) == ([], [], None)
    assert plot_agreement_over_time(empty, tmp_path / "empty.png").is_file()


def test_gold_sessions_measure_annotators_and_stay_out_of_the_agreement_unless_asked() -> None:
    votes = campaign(2, {"ann01": 0.9, "ann02": 0.8, "ann03": 0.7}, 60)
    first = votes[votes["annotator"] == "ann01"].set_index("session_id")["label"]
    gold = {session: first[session] for session in ("s0003", "s0017", "s0021", "s0040", "s0052")}  # ann01 is right
    drift = DriftConfig(window=10, min_earlier=10)
    live = live_agreement(votes, complete=set(votes["session_id"]), drift=drift, seed=1, n_boot=100, gold=gold)
    report = compute_agreement(votes[["session_id", "annotator", "label"]], seed=1, n_boot=100, gold=gold)
    assert live.pairwise == report.cohen_kappa_pairwise and live.gold_accuracy == report.gold_accuracy
    assert [p.n for p in live.pairwise] == [55, 55, 55] and len(live.gold_accuracy) == 3
    without = live_agreement(votes[~votes["session_id"].isin(list(gold))], complete=set(votes["session_id"]), drift=drift, n_boot=0)
    assert [a.majority for a in live.annotators] == [a.majority for a in without.annotators]
    assert [a.votes for a in live.annotators] == [55, 55, 55]
    counted = live_agreement(votes, complete=set(votes["session_id"]), drift=drift, n_boot=0, gold=gold, include_gold=True)
    plain = live_agreement(votes, complete=set(votes["session_id"]), drift=drift, n_boot=0)
    assert [a.majority for a in counted.annotators] == [a.majority for a in plain.annotators]
    assert [p.kappa for p in counted.pairwise] == [p.kappa for p in plain.pairwise]
    # Early on, votes on gold sessions only: no agreement yet, but the gold accuracy already.
    only_gold = live_agreement(votes[votes["session_id"].isin(list(gold))], complete=set(gold), drift=drift, gold=gold)
    assert only_gold.pairwise == [] and only_gold.annotators == []
    assert [(g.annotator, g.rated) for g in only_gold.gold_accuracy] == [("ann01", 5), ("ann02", 5), ("ann03", 5)]
    assert only_gold.gold_accuracy[0].correct == 5


def test_an_answer_share_far_from_the_pool_is_marked() -> None:
    votes = campaign(4, {"ann01": 0.9, "ann02": 0.9}, 40)
    votes.loc[votes["annotator"] == "ann02", "label"] = "Bored"  # ann02 answers Bored to everything
    live = live_agreement(votes, complete=set(votes["session_id"]), drift=DriftConfig(), n_boot=0)
    shares = {a.annotator: {s.label: s for s in a.classes} for a in live.annotators}
    assert shares["ann02"]["Bored"].annotator.count == 40 and shares["ann02"]["Bored"].differs
    assert shares["ann01"]["Bored"].pool == 1.0 and shares["ann01"]["Bored"].differs
    assert not shares["ann01"][ABSTAIN].differs and shares["ann01"][ABSTAIN].pool == 0.0
    assert (shares["ann01"][ABSTAIN].annotator.ci_low, shares["ann02"]["Bored"].annotator.ci_high) == (0.0, 1.0)


def test_a_votes_table_that_cannot_be_scored_is_refused_with_its_row() -> None:
    with pytest.raises(VotesTableError, match="missing column 'annotation_id'"):
        live_agreement(TINY.drop(columns="annotation_id"), complete=set(), drift=DriftConfig())
    repeated = TINY.assign(annotation_id=[1, *TINY["annotation_id"].iloc[1:-1], 1])
    with pytest.raises(VotesTableError, match=r"row 14: annotation_id 1 is empty or repeated"):
        live_agreement(repeated, complete=set(), drift=DriftConfig())
    with pytest.raises(VotesTableError, match="unknown label 'Happy'"):
        live_agreement(TINY.replace({"label": {"Curious": "Happy"}}), complete=set(), drift=DriftConfig())
