"""Agreement on any label set, with any abstention, with unequal rating counts and with gold sessions.

Reference values come from the libraries (scikit-learn, krippendorff, statsmodels) computed here by
hand on the same votes, and from Fleiss (1971).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from edu_affect_data.annotation.agreement import compute_agreement, load_ratings
from edu_affect_data.annotation.estimators import VotesTableError
from edu_affect_data.cli import app

#: Fleiss (1971), Table 1: 10 subjects, 14 raters, 5 categories (counts per category).
FLEISS_1971 = np.array(
    [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
     [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
)  # fmt: skip
#: Made-up category names, in an order that is not alphabetical (the report sorts found classes).
MADE_UP = ["zircon", "amber", "quartz", "jade", "onyx"]


def fleiss_csv(path: Path) -> Path:
    """The 1971 table as a tidy CSV: each subject's 14 ratings by raters r00..r13."""
    rows = [
        (f"subject{s:02d}", f"r{r:02d}", MADE_UP[category])
        for s, counts in enumerate(FLEISS_1971)
        for r, category in enumerate(np.repeat(np.arange(5), counts))
    ]
    pd.DataFrame(rows, columns=["session_id", "annotator", "label"]).to_csv(path, index=False)
    return path


def run_cli(*args: str) -> dict:
    result = CliRunner().invoke(app, ["agreement", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fleiss_1971_with_made_up_names_through_the_cli_and_the_function(tmp_path: Path) -> None:
    path = fleiss_csv(tmp_path / "fleiss.csv")
    data = run_cli("--annotations", str(path), "--n-boot", "0")
    assert round(data["fleiss_kappa"]["estimate"], 3) == 0.210
    assert round(fleiss_kappa(FLEISS_1971), 4) == 0.2099  # statsmodels on the published counts
    assert data["fleiss_kappa"]["estimate"] == pytest.approx(fleiss_kappa(FLEISS_1971), abs=1e-12)
    assert data["classes"] == sorted(MADE_UP)
    assert (data["fleiss_kappa"]["n_sessions"], data["fleiss_kappa"]["raters_per_session"]) == (10, 14)
    assert data["ratings_per_session"] == {"14": 10} and data["n_ratings"] == 140

    report = compute_agreement(load_ratings(path), classes=None, n_boot=0)
    assert round(report.fleiss_kappa.estimate, 3) == 0.210
    assert report.classes == sorted(MADE_UP) and report.ratings_per_session == {14: 10}


def made_up_panel() -> pd.DataFrame:
    """12 sessions x 3 raters on made-up labels; 4 abstentions spelled 'pass'."""
    rng = np.random.default_rng(3)
    labels = ["spiky", "round", "flat"]
    truth = rng.integers(0, 3, 12)
    rows = []
    for s in range(12):
        for a in range(3):
            code = truth[s] if rng.random() < 0.7 else rng.integers(0, 3)
            rows.append((f"item{s}", f"coder{a}", labels[code]))
    table = pd.DataFrame(rows, columns=["session_id", "annotator", "label"])
    table.loc[[1, 7, 8, 30], "label"] = "pass"  # coder1 on item0, coder1 item2, coder2 item2, coder0 item10
    return table


def test_an_abstention_of_your_choosing_is_a_missing_rating_counted_per_annotator(tmp_path: Path) -> None:
    table = made_up_panel()
    path = tmp_path / "panel.csv"
    table.to_csv(path, index=False)
    data = run_cli("--annotations", str(path), "--abstain", "pass", "--n-boot", "0")
    assert data["classes"] == ["flat", "round", "spiky"] and data["abstain"] == "pass"
    assert data["cannot_tell"] == {"coder0": 1, "coder1": 2, "coder2": 1}
    assert data["ratings_per_annotator"] == {"coder0": 11, "coder1": 10, "coder2": 11}
    assert data["n_ratings"] == 32
    assert data["ratings_per_session"] == {"1": 1, "2": 2, "3": 9}
    assert data["votes_per_session"] == {"3": 12}

    kept = table[table["label"] != "pass"]  # the abstentions are simply missing ratings
    without = compute_agreement(kept, classes=None, n_boot=0)
    assert data["krippendorff_alpha"]["estimate"] == pytest.approx(without.krippendorff_alpha.estimate, abs=1e-12)
    assert data["cohen_kappa_mean"]["estimate"] == pytest.approx(without.cohen_kappa_mean.estimate, abs=1e-12)

    as_a_class = run_cli("--annotations", str(path), "--n-boot", "0")  # default abstention: "Cannot tell"
    assert as_a_class["classes"] == ["flat", "pass", "round", "spiky"]
    assert as_a_class["n_ratings"] == 36 and as_a_class["cannot_tell"] == {"coder0": 0, "coder1": 0, "coder2": 0}


def test_classes_given_make_any_other_label_a_one_line_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    made_up_panel().to_csv(path, index=False)
    result = CliRunner().invoke(
        app, ["agreement", "--annotations", str(path), "--classes", "spiky,round", "--abstain", "pass"]
    )
    assert result.exit_code == 2
    first_flat = made_up_panel()["label"].tolist().index("flat") + 2  # header is line 1
    assert result.stderr.strip().splitlines() == [
        f"error: {path} (rows counted as file lines): column 'label', row {first_flat}: unknown label 'flat'; "
        "expected one of ['spiky', 'round', 'pass']"
    ]
    data = run_cli("--annotations", str(path), "--classes", "spiky,round,flat", "--abstain", "pass", "--n-boot", "0")
    assert data["classes"] == ["spiky", "round", "flat"]  # the order given
    with pytest.raises(VotesTableError, match=r"every vote is 'pass'"):
        compute_agreement(pd.DataFrame({"session_id": ["a"], "annotator": ["x"], "label": ["pass"]}),
                          classes=None, abstain="pass")  # fmt: skip


def two_and_three() -> pd.DataFrame:
    """30 sessions, 4 annotators in rotation: s00-s19 rated twice, s20-s29 three times; one abstention."""
    rng = np.random.default_rng(11)
    labels = ["north", "south", "east"]
    rows = []
    for s in range(30):
        truth = int(rng.integers(0, 3))
        for k in range(2 if s < 20 else 3):
            code = truth if rng.random() < 0.75 else int(rng.integers(0, 3))
            rows.append((f"s{s:02d}", f"a{(s + k) % 4}", labels[code]))
    table = pd.DataFrame(rows, columns=["session_id", "annotator", "label"])
    table.loc[(table["session_id"] == "s25") & (table["annotator"] == "a3"), "label"] = "unsure"
    return table


def test_two_and_three_ratings_mixed_keep_every_statistic_honest(tmp_path: Path) -> None:
    table = two_and_three()
    report = compute_agreement(table, classes=None, abstain="unsure", n_boot=0)
    classes = ["east", "north", "south"]
    assert report.classes == classes
    assert report.ratings_per_session == {2: 21, 3: 9}  # s25 lost a rating to its abstention
    assert report.votes_per_session == {2: 20, 3: 10}
    assert report.cannot_tell == {"a0": 0, "a1": 0, "a2": 0, "a3": 1}

    # Cohen's kappa of each pair on the sessions both rated (scikit-learn, by hand).
    wide = table[table["label"] != "unsure"].pivot(index="session_id", columns="annotator", values="label")
    for pair in report.cohen_kappa_pairwise:
        both = wide[[pair.a, pair.b]].dropna()
        assert pair.n == len(both)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = cohen_kappa_score(both[pair.a], both[pair.b], labels=classes)
        assert pair.kappa == pytest.approx(expected, abs=1e-12), (pair.a, pair.b)
    assert {(p.a, p.b): p.n for p in report.cohen_kappa_pairwise} == {
        ("a0", "a1"): 10, ("a0", "a2"): 5, ("a0", "a3"): 9,
        ("a1", "a2"): 11, ("a1", "a3"): 4, ("a2", "a3"): 9,
    }  # fmt: skip  (the rotation's overlaps; s25's abstention costs a1-a3 and a2-a3 one each)

    # Krippendorff's alpha with the missing ratings as NaN (annotators x sessions).
    codes = wide.apply(lambda column: column.map({label: i for i, label in enumerate(classes)}))
    expected_alpha = krippendorff.alpha(
        reliability_data=codes.T.to_numpy(dtype=float), level_of_measurement="nominal", value_domain=[0, 1, 2]
    )
    assert report.krippendorff_alpha.estimate == pytest.approx(expected_alpha, abs=1e-12)

    # Fleiss' kappa on the modal count (2 ratings: 21 sessions), with a note saying so.
    two = wide[wide.notna().sum(axis=1) == 2]
    counts, _ = aggregate_raters(two.apply(lambda row: sorted(row.dropna()), axis=1, result_type="expand").to_numpy())
    assert (report.fleiss_raters, report.fleiss_n_sessions) == (2, 21)
    assert report.fleiss_kappa.estimate == pytest.approx(fleiss_kappa(counts), abs=1e-12)
    assert "Fleiss' kappa uses the 21 sessions with 2 ratings; 9 session(s)" in " ".join(report.notes)

    path = tmp_path / "mix.csv"
    table.to_csv(path, index=False)
    data = run_cli("--annotations", str(path), "--abstain", "unsure", "--n-boot", "0")
    assert data["ratings_per_session"] == {"2": 21, "3": 9} and data["votes_per_session"] == {"2": 20, "3": 10}
    markdown = (tmp_path / "agreement" / "agreement.md").read_text()
    assert "Ratings per session: 2 ratings: 21 sessions, 3 ratings: 9 sessions" in markdown
    shown = CliRunner().invoke(app, ["agreement", "--annotations", str(path), "--abstain", "unsure", "--n-boot", "0"])
    assert shown.exit_code == 0, shown.output
    assert "sessions by number of ratings: 2 ratings: 21 sessions, 3 ratings: 9 sessions ('unsure' not counted)" in shown.stdout


GOLD = {"s00": "north", "s01": "east", "s20": "south", "s21": "north"}


def test_gold_accuracy_and_gold_sessions_left_out_of_the_agreement(tmp_path: Path) -> None:
    table = two_and_three()
    report = compute_agreement(table, classes=None, abstain="unsure", n_boot=50, gold=GOLD)
    on_gold = table[table["session_id"].isin(GOLD)]
    assert len(on_gold) == 10  # 2 + 2 + 3 + 3 votes
    expected = {}
    for entry in report.gold_accuracy:
        mine = on_gold[(on_gold["annotator"] == entry.annotator) & (on_gold["label"] != "unsure")]
        correct = int((mine["label"] == mine["session_id"].map(GOLD)).sum())
        expected[entry.annotator] = (correct, len(mine))
        assert (entry.correct, entry.rated, entry.abstained) == (correct, len(mine), 0)
        low, high = proportion_confint(correct, len(mine), alpha=0.05, method="wilson")
        assert (entry.ci_low, entry.ci_high) == pytest.approx((low, high), abs=1e-12)
    # a0 meets s00 and s20, a1 all four, a2 s01, s20 and s21, a3 s21 only
    assert [(g.annotator, g.rated) for g in report.gold_accuracy] == [("a0", 2), ("a1", 4), ("a2", 3), ("a3", 1)]
    assert 0 < sum(c for c, _ in expected.values()) < 10  # some right, some wrong: accuracy is measured
    assert (report.gold_sessions, report.gold_left_out, report.gold_included) == (4, 4, False)
    assert report.n_sessions == 26 and report.ratings_per_session == {2: 19, 3: 7}

    rest = compute_agreement(table[~table["session_id"].isin(GOLD)], classes=None, abstain="unsure", n_boot=50)
    same = ("cohen_kappa_mean", "cohen_kappa_pairwise", "fleiss_kappa", "krippendorff_alpha", "consensus",
            "ratings_per_annotator", "per_class_kappa", "observed_agreement")  # fmt: skip
    assert {k: report.to_json()[k] for k in same} == {k: rest.to_json()[k] for k in same}
    assert "4 gold session(s) are left out" in " ".join(report.notes)

    included = compute_agreement(table, classes=None, abstain="unsure", n_boot=50, gold=GOLD, include_gold=True)
    everything = compute_agreement(table, classes=None, abstain="unsure", n_boot=50)
    assert {k: included.to_json()[k] for k in same} == {k: everything.to_json()[k] for k in same}
    assert (included.gold_left_out, included.gold_included) == (0, True)
    assert included.gold_accuracy == report.gold_accuracy

    gold_csv = tmp_path / "gold.csv"
    pd.DataFrame(list(GOLD.items()), columns=["session_id", "label"]).to_csv(gold_csv, index=False)
    votes = tmp_path / "mix.csv"
    table.to_csv(votes, index=False)
    data = run_cli("--annotations", str(votes), "--abstain", "unsure", "--gold", str(gold_csv), "--n-boot", "0")
    assert data["gold"]["left_out_of_agreement"] == 4 and data["n_sessions"] == 26
    assert {g["annotator"]: (g["correct"], g["rated"]) for g in data["gold"]["accuracy"]} == expected
    assert data["gold"]["accuracy"][1]["accuracy"] == pytest.approx(expected["a1"][0] / 4)
    assert "## Accuracy on gold sessions" in (tmp_path / "agreement" / "agreement.md").read_text()
    shown = CliRunner().invoke(app, ["agreement", "--annotations", str(votes), "--abstain", "unsure",
                                     "--gold", str(gold_csv), "--n-boot", "0"])  # fmt: skip
    assert shown.exit_code == 0 and "gold: correct/rated, accuracy, 95% Wilson CI" in shown.stdout
    assert "{}/{}".format(*expected["a2"]) in shown.stdout

    gold_csv.write_text("session_id,label\ns00,north\ns01,west\n")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(votes), "--gold", str(gold_csv)])
    assert result.exit_code == 2
    assert f"{gold_csv}, line 3: label 'west' of s01" in result.stderr


def test_an_abstention_on_a_gold_session_is_not_an_error() -> None:
    table = two_and_three()
    report = compute_agreement(table, classes=None, abstain="unsure", n_boot=0, gold={"s25": "east"})
    entry = next(g for g in report.gold_accuracy if g.annotator == "a3")
    assert (entry.rated, entry.abstained) == (0, 1) and np.isnan(entry.accuracy)
    assert report.to_json()["gold"]["accuracy"][3]["accuracy"] is None


def test_the_builds_own_call_is_unchanged() -> None:
    """The aggregate stage's call still means the four classes and "Cannot tell", without gold."""
    table = two_and_three().replace({"label": {"north": "Bored", "south": "Curious", "east": "Confused",
                                               "unsure": "Cannot tell"}})  # fmt: skip
    report = compute_agreement(table, seed=3, n_boot=20, min_votes=2)
    assert report.classes == ["Confused", "Curious", "Bored", "Frustrated"]
    assert report.abstain == "Cannot tell" and report.cannot_tell["a3"] == 1
    assert report.gold_accuracy == [] and report.gold_left_out == 0
    with pytest.raises(VotesTableError, match=r"unknown label 'Sad'"):
        compute_agreement(pd.concat([table, pd.DataFrame([("s99", "a0", "Sad")], columns=table.columns)]))


def test_out_reads_the_builds_gold_tasks(tmp_path: Path) -> None:
    """``--out OUT``: the project's classes and the build's gold.parquet, as the build drew them."""
    from edu_affect_data.annotation.gold import write_gold
    from edu_affect_data.core.artifacts import BuildPaths

    paths = BuildPaths(tmp_path / "out")
    paths.annotations.parent.mkdir(parents=True)
    names = {"north": "Bored", "south": "Curious", "east": "Confused", "unsure": "Cannot tell"}
    two_and_three().replace({"label": names}).to_parquet(paths.annotations)
    data = run_cli("--out", str(paths.out), "--n-boot", "0")
    assert data["classes"] == ["Confused", "Curious", "Bored", "Frustrated"] and data["gold"]["accuracy"] == []
    write_gold({session: names[label] for session, label in GOLD.items()}, paths)
    data = run_cli("--out", str(paths.out), "--n-boot", "0")
    assert [(g["annotator"], g["rated"]) for g in data["gold"]["accuracy"]] == [("a0", 2), ("a1", 4), ("a2", 3), ("a3", 1)]
    assert data["gold"]["left_out_of_agreement"] == 4 and data["n_sessions"] == 26
    assert run_cli("--out", str(paths.out), "--n-boot", "0", "--include-gold")["n_sessions"] == 30
