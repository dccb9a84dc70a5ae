"""Agreement statistics on textbook cases, against the reference libraries, bootstrap, report, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa
from typer.testing import CliRunner

from edu_affect_data.annotation.agreement import (
    compute_agreement,
    load_ratings,
    write_agreement_report,
)
from edu_affect_data.annotation.agreement_stats import (
    MISSING,
    SessionContributions,
    annotator_pairs,
)
from edu_affect_data.annotation.estimators import (
    VotesTableError,
    aggregate_labels,
    needs_adjudication,
)
from edu_affect_data.annotation.options import AggregationConfig
from edu_affect_data.cli import app
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

FLEISS_1971 = np.array(
    [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
     [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
)  # fmt: skip


def long_table(codes: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """(sessions x annotators) codes, MISSING = not rated -> session_id, annotator, label."""
    rows = [
        (f"s{s:03d}", f"r{a:02d}", classes[code])
        for (s, a), code in np.ndenumerate(codes)
        if code != MISSING
    ]
    return pd.DataFrame(rows, columns=["session_id", "annotator", "label"])


def two_raters_textbook() -> pd.DataFrame:
    """50 items: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no (kappa 0.40)."""
    cells = [(0, 0)] * 20 + [(0, 1)] * 5 + [(1, 0)] * 10 + [(1, 1)] * 15
    return long_table(np.array(cells), ["yes", "no"])


def fleiss_long_table() -> pd.DataFrame:
    """Fleiss (1971): each subject's 14 ratings spread over raters r00..r13."""
    codes = np.array([np.repeat(np.arange(5), counts) for counts in FLEISS_1971])
    return long_table(codes, ["c1", "c2", "c3", "c4", "c5"])


def noisy_panel(
    seed: int, n_sessions: int = 250, n_annotators: int = 3, accuracy: float = 0.8
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_sessions)
    codes = np.where(
        rng.random((n_sessions, n_annotators)) < accuracy,
        truth[:, None],
        rng.integers(0, 4, (n_sessions, n_annotators)),
    )
    return long_table(codes, list(CLASSES))


def test_cohen_kappa_textbook_two_raters() -> None:
    table = two_raters_textbook()
    report = compute_agreement(table, classes=["yes", "no"], n_boot=0)
    assert report.cohen_kappa_mean.estimate == pytest.approx(0.40)
    assert report.cohen_kappa_pairwise[0].n == 50
    assert report.observed_agreement.estimate == pytest.approx(0.70)
    wide = table.pivot(index="session_id", columns="annotator", values="label")
    assert cohen_kappa_score(wide["r00"], wide["r01"]) == pytest.approx(0.40)
    # with two classes, one-vs-rest kappa is the kappa itself
    assert report.per_class_kappa["yes"].estimate == pytest.approx(0.40)


def test_fleiss_kappa_textbook_1971() -> None:
    report = compute_agreement(
        fleiss_long_table(), classes=["c1", "c2", "c3", "c4", "c5"], n_boot=0
    )
    assert report.fleiss_kappa.estimate == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(0.210, abs=5e-4)
    assert report.fleiss_n_sessions == 10 and report.fleiss_raters == 14
    vectorised = SessionContributions.from_codes(
        np.array([np.repeat(np.arange(5), counts) for counts in FLEISS_1971]), 5
    ).statistics(np.ones((1, 10)))
    assert vectorised.fleiss_kappa[0] == pytest.approx(fleiss_kappa(FLEISS_1971))


def test_perfect_agreement_is_one_with_a_degenerate_interval() -> None:
    codes = np.repeat(np.arange(40) % 4, 3).reshape(40, 3)
    report = compute_agreement(long_table(codes, list(CLASSES)), n_boot=200)
    for value in (
        report.cohen_kappa_mean,
        report.fleiss_kappa,
        report.krippendorff_alpha,
        report.observed_agreement,
    ):
        assert (value.estimate, value.ci_low, value.ci_high) == pytest.approx((1.0, 1.0, 1.0))
    assert all(e.estimate == pytest.approx(1.0) for e in report.per_class_kappa.values())


def test_one_category_only_gives_undefined_not_a_crash() -> None:
    codes = np.zeros((10, 3), dtype=int)
    report = compute_agreement(long_table(codes, list(CLASSES)), n_boot=50)
    assert math.isnan(report.cohen_kappa_mean.estimate)
    assert math.isnan(report.fleiss_kappa.estimate)
    assert math.isnan(report.krippendorff_alpha.estimate)
    assert report.observed_agreement.estimate == 1.0
    assert report.to_json()["fleiss_kappa"]["estimate"] is None


ratings_matrices = st.integers(2, 4).flatmap(
    lambda n_annotators: arrays(
        np.int64,
        st.tuples(st.integers(2, 25), st.just(n_annotators)),
        elements=st.integers(MISSING, 2),
    )
)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@settings(max_examples=60, deadline=None)
@given(codes=ratings_matrices)
def test_vectorised_statistics_match_reference_libraries(codes: np.ndarray) -> None:
    n_classes = 3
    stats = SessionContributions.from_codes(codes, n_classes).statistics(
        np.ones((1, codes.shape[0]))
    )
    for index, (a, b) in enumerate(annotator_pairs(codes.shape[1])):
        both = (codes[:, a] != MISSING) & (codes[:, b] != MISSING)
        expected = (
            cohen_kappa_score(
                codes[both, a], codes[both, b], labels=[0, 1, 2], replace_undefined_by=np.nan
            )
            if both.any()
            else np.nan
        )
        np.testing.assert_allclose(stats.pair_kappa[0, index], expected, atol=1e-9)
        for k in range(n_classes):
            binary = (
                cohen_kappa_score(
                    codes[both, a] == k,
                    codes[both, b] == k,
                    labels=[False, True],
                    replace_undefined_by=np.nan,
                )
                if both.any()
                else np.nan
            )
            np.testing.assert_allclose(stats.pair_class_kappa[0, index, k], binary, atol=1e-9)
    contributions = SessionContributions.from_codes(codes, n_classes)
    subset = contributions.fleiss_counts[contributions.fleiss_member > 0]
    if subset.size and (subset.sum(axis=0) > 0).sum() > 1:
        np.testing.assert_allclose(stats.fleiss_kappa[0], fleiss_kappa(subset), atol=1e-9)
    pairable = (codes != MISSING).sum(axis=1) >= 2
    if np.unique(codes[pairable][codes[pairable] != MISSING]).size > 1:
        reliability = np.where(codes == MISSING, np.nan, codes).T.astype(float)
        expected_alpha = krippendorff.alpha(
            reliability_data=reliability, value_domain=[0, 1, 2], level_of_measurement="nominal"
        )
        np.testing.assert_allclose(stats.krippendorff_alpha[0], expected_alpha, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(codes=ratings_matrices)
def test_report_estimates_equal_library_values(codes: np.ndarray) -> None:
    table = long_table(codes, ["Confused", "Curious", "Bored"])
    if table.empty:
        return
    report = compute_agreement(table, classes=["Confused", "Curious", "Bored"], n_boot=0)
    stats = SessionContributions.from_codes(
        codes[:, (codes != MISSING).any(axis=0)][(codes != MISSING).any(axis=1)], 3
    ).statistics(np.ones((1, int((codes != MISSING).any(axis=1).sum()))))
    np.testing.assert_allclose(
        [p.kappa for p in report.cohen_kappa_pairwise], stats.pair_kappa[0], atol=1e-9
    )
    np.testing.assert_allclose(
        report.krippendorff_alpha.estimate, stats.krippendorff_alpha[0], atol=1e-9
    )
    np.testing.assert_allclose(report.fleiss_kappa.estimate, stats.fleiss_kappa[0], atol=1e-9)


def test_bootstrap_is_deterministic_under_the_seed_and_brackets_the_estimate() -> None:
    table = noisy_panel(seed=4)
    first = compute_agreement(table, seed=7, n_boot=400)
    again = compute_agreement(table, seed=7, n_boot=400)
    other = compute_agreement(table, seed=8, n_boot=400)
    assert first.to_json() == again.to_json()
    assert first.cohen_kappa_mean.ci_low != other.cohen_kappa_mean.ci_low
    estimates = [first.cohen_kappa_mean, first.fleiss_kappa, first.krippendorff_alpha, first.observed_agreement,
                 *first.per_class_kappa.values()]  # fmt: skip
    for value in estimates:
        assert value.ci_low < value.estimate < value.ci_high
        assert value.ci_high - value.ci_low < 0.25


def test_unequal_rating_counts_and_cannot_tell() -> None:
    table = noisy_panel(seed=5, n_sessions=60)
    table = table[
        ~((table["annotator"] == "r02") & (table["session_id"] < "s010"))
    ]  # r02 skipped 10 sessions
    table = pd.concat(
        [
            table,
            pd.DataFrame({"session_id": ["s020"], "annotator": ["r03"], "label": [ABSTAIN]}),
        ]
    )
    report = compute_agreement(table, n_boot=50)
    assert report.fleiss_raters == 3 and report.fleiss_n_sessions == 50
    assert any("left out" in note for note in report.notes)
    assert report.cannot_tell["r03"] == 1 and report.ratings_per_annotator["r03"] == 0
    assert report.n_ratings == 170
    pair = next(p for p in report.cohen_kappa_pairwise if (p.a, p.b) == ("r00", "r02"))
    assert pair.n == 50


def test_confusion_against_the_strict_majority() -> None:
    table = pd.DataFrame(
        [("s1", "a", "Bored"), ("s1", "b", "Bored"), ("s1", "c", "Curious"),
         ("s2", "a", "Curious"), ("s2", "b", "Curious"), ("s2", "c", "Curious"),
         ("s3", "a", "Bored"), ("s3", "b", "Curious"), ("s3", "c", "Confused")],
        columns=["session_id", "annotator", "label"],
    )  # fmt: skip
    confusion = compute_agreement(table, n_boot=0).confusion
    bored, curious = CLASSES.index("Bored"), CLASSES.index("Curious")
    assert np.asarray(confusion["c"]).sum() == 2  # s3 has no consensus
    assert confusion["c"][bored][curious] == 1 and confusion["c"][curious][curious] == 1
    assert confusion["a"][bored][bored] == 1


def test_consensus_is_the_published_majority_label_with_cannot_tell_votes() -> None:
    """One majority rule: "Cannot tell" counts against a majority in the report as in the labels."""
    votes = {
        "s1": ["Bored", "Bored", ABSTAIN],  # 2 of 3: Bored
        "s2": ["Bored", ABSTAIN, ABSTAIN],  # 1 of 3: no consensus (was Bored when abstentions were dropped)
        "s3": ["Curious", ABSTAIN],  # 1 of 2: no consensus
        "s4": ["Confused", "Confused", "Curious"],
        "s5": ["Frustrated", "Frustrated", "Frustrated"],
        "s6": ["Bored", "Curious", "Confused"],
    }
    table = pd.DataFrame(
        [(s, f"a{i}", label) for s, labels in votes.items() for i, label in enumerate(labels)],
        columns=["session_id", "annotator", "label"],
    )
    config = AggregationConfig(method="majority", min_votes=2)
    published = aggregate_labels(table, None, config).labels
    report = compute_agreement(table, n_boot=0, min_votes=config.min_votes)
    assert report.consensus == dict(zip(published["session_id"], published["label"], strict=True))
    assert report.consensus == {"s1": "Bored", "s4": "Confused", "s5": "Frustrated"}
    assert sorted(set(votes) - set(report.consensus)) == needs_adjudication(table, config.min_votes)
    bored = CLASSES.index("Bored")
    assert report.confusion["a0"][bored][bored] == 1  # s1 only: s2 has no consensus any more
    assert report.cannot_tell == {"a0": 0, "a1": 2, "a2": 2}  # the statistics still leave them out
    assert report.n_ratings == 13


def test_report_files_and_json_keys(tmp_path: Path) -> None:
    report = compute_agreement(noisy_panel(seed=6, n_sessions=40), n_boot=100)
    written = write_agreement_report(report, tmp_path / "agreement")
    assert [p.name for p in written] == [
        "agreement.json",
        "agreement.md",
        "coincidence.png",
        "kappa_heatmap.png",
        "confusion.png",
    ]
    for png in written[2:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(written[0].read_text())
    for key in ("n_sessions", "n_annotators", "cohen_kappa_mean", "cohen_kappa_pairwise", "per_class_kappa",
                "fleiss_kappa", "krippendorff_alpha", "observed_agreement", "confusion", "consensus"):  # fmt: skip
        assert key in data
    assert set(data["cohen_kappa_mean"]) == {"estimate", "ci_low", "ci_high"}
    assert {"a", "b", "kappa", "n"} <= set(data["cohen_kappa_pairwise"][0])
    assert data["confusion"]["r00"]["labels"] == list(CLASSES)
    markdown = written[1].read_text()
    assert "| Krippendorff's alpha (nominal) |" in markdown and "### r02" in markdown


def test_load_ratings_names_file_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text("session_id,annotator,label\ns1,a,Bored\ns1,b,Happy\n")
    assert load_ratings(path)["label"].tolist() == ["Bored", "Happy"]  # no classes given: any label
    with pytest.raises(
        VotesTableError, match=r"votes\.csv.*column 'label', row 3: unknown label 'Happy'"
    ):
        load_ratings(path, classes=CLASSES)
    path.write_text("session_id,rater,label\ns1,a,Bored\n")
    with pytest.raises(VotesTableError, match=r"votes\.csv.*missing column\(s\) 'annotator'"):
        load_ratings(path)


def test_cli_json_on_a_plain_csv(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    two_raters = two_raters_textbook().replace({"label": {"yes": "Bored", "no": "Curious"}})
    two_raters.to_csv(path, index=False)
    result = CliRunner().invoke(
        app, ["agreement", "--annotations", str(path), "--format", "json", "--n-boot", "100"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cohen_kappa_mean"]["estimate"] == pytest.approx(0.40)
    assert data["n_sessions"] == 50 and data["n_annotators"] == 2
    assert (tmp_path / "agreement" / "kappa_heatmap.png").is_file()


def test_cli_reads_the_last_pull_and_reports_bad_labels(tmp_path: Path) -> None:
    pulled = tmp_path / "build" / "annotation" / "annotations.parquet"
    pulled.parent.mkdir(parents=True)
    noisy_panel(seed=9, n_sessions=30).to_parquet(pulled)
    report_dir = tmp_path / "figures"
    result = CliRunner().invoke(
        app,
        [
            "agreement",
            "--out",
            str(tmp_path / "build"),
            "--report-dir",
            str(report_dir),
            "--n-boot",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Krippendorff" in result.stdout and (report_dir / "agreement.md").is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("session_id,annotator,label\ns1,a,Sad\n")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(bad), "--classes", ",".join(CLASSES)])
    assert result.exit_code == 2
    assert "bad.csv" in result.stderr and "row 2: unknown label 'Sad'" in result.stderr


def test_a_single_annotator_has_no_pairs_and_undefined_statistics() -> None:
    report = compute_agreement(long_table(np.array([[0], [1], [2]]), list(CLASSES)), n_boot=20)
    assert report.cohen_kappa_pairwise == []
    assert math.isnan(report.cohen_kappa_mean.estimate) and math.isnan(
        report.cohen_kappa_mean.ci_low
    )
    assert math.isnan(report.krippendorff_alpha.estimate) and math.isnan(
        report.fleiss_kappa.estimate
    )


def test_the_coincidence_matrix_is_krippendorffs() -> None:
    """Hand-computed: [A, A] adds A-A twice; [A, B] adds A-B and B-A; [B, B, C] (m = 3, weight 1/2)
    adds B-B, B-C, C-B once each. It sums to the ratings of sessions with 2 or more ratings (7), and
    alpha from it is the library's."""
    A, B, C, _ = range(4)
    codes = np.array([[A, A, MISSING], [A, B, MISSING], [B, B, C], [C, MISSING, MISSING]])
    table = long_table(codes, ["A", "B", "C", "D"])
    report = compute_agreement(table, classes=["A", "B", "C", "D"], n_boot=0)
    expected = np.zeros((4, 4))
    expected[A, A], expected[A, B], expected[B, A], expected[B, B], expected[B, C], expected[C, B] = 2, 1, 1, 1, 1, 1
    assert np.allclose(report.coincidence, expected) and np.isclose(np.sum(report.coincidence), 7)
    o = np.asarray(report.coincidence)
    n_c, n = o.sum(axis=1), o.sum()
    alpha = 1 - (n - 1) * (o.sum() - np.trace(o)) / (n**2 - (n_c**2).sum())
    reliability = np.where(codes.T == MISSING, np.nan, codes.T).astype(float)
    assert alpha == pytest.approx(krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal"))
    assert "## Coincidences" in report.to_markdown() and report.to_json()["coincidence"]["matrix"] == report.coincidence


def test_the_terminal_pair_table_shows_ten_pairs_and_says_where_the_rest_are() -> None:
    from edu_affect_data.annotation.agreement_report import PairKappa
    from edu_affect_data.cli.agreement import SHOWN_PAIRS, pairwise_table

    pairs = [PairKappa(f"r{a:02d}", f"r{b:02d}", 0.5, n=a + b, ci_low=0.4, ci_high=0.6) for a, b in annotator_pairs(15)]
    table = pairwise_table(pairs, "pairs", "agreement/agreement.md")
    assert len(pairs) == 105 and table.row_count == SHOWN_PAIRS == 10
    assert table.columns[2]._cells == [str(n) for n in sorted((p.n for p in pairs), reverse=True)[:10]]
    assert table.caption == "the 10 pairs with the most sessions in common; 95 more in agreement/agreement.md"
    assert pairwise_table(pairs[:3], "pairs").caption is None
