"""Majority vote, adjudication override and the labels table."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from edu_affect_data.annotation.estimators import (
    MajorityVote,
    VotesTableError,
    aggregate_labels,
    needs_adjudication,
)
from edu_affect_data.annotation.options import AggregationConfig
from edu_affect_data.core.artifacts import LABELS_SCHEMA
from edu_affect_data.core.vocabulary import ABSTAIN


def votes(table: dict[str, list[str]]) -> pd.DataFrame:
    """{task: [labels of workers w0, w1, ...]} -> tidy task, worker, label."""
    rows = [
        (task, f"w{i}", label) for task, labels in table.items() for i, label in enumerate(labels)
    ]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def annotations(table: dict[str, list[str]]) -> pd.DataFrame:
    return votes(table).rename(columns={"task": "session_id", "worker": "annotator"})


def test_strict_majority_wins_and_ties_are_undecided() -> None:
    labels = MajorityVote().fit_predict(
        votes(
            {
                "two_of_three": ["Bored", "Bored", "Curious"],
                "all_differ": ["Bored", "Curious", "Confused"],
                "two_two": ["Bored", "Bored", "Curious", "Curious"],
                "plurality_only": ["Bored", "Bored", "Curious", "Confused"],
                "unanimous": ["Frustrated"] * 3,
            }
        )
    )
    assert labels["two_of_three"] == "Bored"
    assert labels["unanimous"] == "Frustrated"
    for undecided in ("all_differ", "two_two", "plurality_only"):
        assert pd.isna(labels[undecided]), undecided


def test_cannot_tell_counts_as_a_vote_but_never_wins() -> None:
    labels = MajorityVote().fit_predict(
        votes(
            {
                "abstain_majority": [ABSTAIN, ABSTAIN, "Bored"],
                "all_abstain": [ABSTAIN] * 3,
                "one_abstains": ["Bored", "Bored", ABSTAIN],
                "abstain_splits": ["Bored", ABSTAIN],
            }
        )
    )
    assert pd.isna(labels["abstain_majority"])
    assert pd.isna(labels["all_abstain"])
    assert labels["one_abstains"] == "Bored"
    assert pd.isna(labels["abstain_splits"])  # 1 of 2 votes is not more than half


def test_min_votes_counts_valid_votes_only() -> None:
    data = votes(
        {
            "single": ["Bored"],
            "pair": ["Curious", "Curious"],
            "pair_plus_abstain": ["Curious", ABSTAIN, ABSTAIN],
        }
    )
    assert MajorityVote(min_votes=1).fit_predict(data)["single"] == "Bored"
    strict = MajorityVote(min_votes=2).fit(data)
    assert pd.isna(strict.labels_["single"])
    assert strict.labels_["pair"] == "Curious"
    assert pd.isna(strict.labels_["pair_plus_abstain"])
    assert strict.valid_votes_.to_dict() == {"pair": 2, "pair_plus_abstain": 1, "single": 1}


def test_result_does_not_depend_on_row_order() -> None:
    data = votes(
        {f"t{i}": ["Bored", "Curious", "Bored"] if i % 2 else ["Confused"] * 3 for i in range(20)}
    )
    shuffled = data.sample(frac=1.0, random_state=3)
    pd.testing.assert_series_equal(
        MajorityVote().fit_predict(data), MajorityVote().fit_predict(shuffled)
    )


def test_needs_adjudication_lists_every_undecided_session() -> None:
    table = annotations(
        {
            "s_ok": ["Bored", "Bored", "Curious"],
            "s_split": ["Bored", "Curious", "Confused"],
            "s_abstain": [ABSTAIN, ABSTAIN, "Bored"],
            "s_few": ["Bored"],
        }
    )
    assert needs_adjudication(table, min_votes=2) == ["s_abstain", "s_few", "s_split"]
    assert needs_adjudication(table, min_votes=1) == ["s_abstain", "s_split"]


def test_adjudication_overrides_and_unresolved_sessions_are_left_out() -> None:
    table = annotations(
        {
            "s1": ["Bored", "Bored", "Curious"],
            "s2": ["Bored", "Curious", "Confused"],
            "s3": [ABSTAIN, ABSTAIN, "Bored"],
            "s4": ["Frustrated", "Frustrated", "Frustrated"],
        }
    )
    reviewer = pd.DataFrame({"session_id": ["s2", "s4"], "label": ["Confused", "Curious"]})
    result = aggregate_labels(table, reviewer, AggregationConfig(method="majority", min_votes=2))
    rows = result.labels.set_index("session_id")
    assert list(rows.index) == ["s1", "s2", "s4"]
    assert result.unresolved == ["s3"]
    assert rows.loc["s1", "label"] == "Bored" and rows.loc["s1", "method"] == "majority"
    assert rows.loc["s2", "label"] == "Confused" and rows.loc["s2", "method"] == "adjudicated"
    assert rows.loc["s4", "label"] == "Curious" and rows.loc["s4", "method"] == "adjudicated"
    assert rows.loc["s1", "votes"] == ["Bored", "Bored", "Curious"]
    assert math.isclose(rows.loc["s1", "agreement"], 2 / 3)
    assert math.isclose(rows.loc["s2", "agreement"], 1 / 3)
    assert rows.loc["s4", "agreement"] == 0.0


def test_agreement_is_over_class_votes() -> None:
    table = annotations(
        {"s": ["Bored", "Bored", ABSTAIN], "t": [ABSTAIN, ABSTAIN, ABSTAIN]}
    )
    reviewer = pd.DataFrame({"session_id": ["t"], "label": ["Bored"]})
    rows = aggregate_labels(table, reviewer, AggregationConfig()).labels.set_index("session_id")
    assert rows.loc["s", "agreement"] == 1.0
    assert rows.loc["s", "votes"] == ["Bored", "Bored", ABSTAIN]
    assert math.isnan(rows.loc["t", "agreement"])


def test_labels_fit_the_arrow_schema() -> None:
    table = annotations({"s1": ["Bored", "Bored", "Curious"], "s2": ["Curious"] * 3})
    arrow = aggregate_labels(table, None, AggregationConfig()).to_arrow()
    assert arrow.schema.equals(LABELS_SCHEMA)
    assert arrow.column("label").to_pylist() == ["Bored", "Curious"]
    assert isinstance(arrow, pa.Table)


def test_dawid_skene_method_is_recorded() -> None:
    table = annotations({f"s{i}": ["Bored", "Bored", "Curious"] for i in range(5)})
    labels = aggregate_labels(table, None, AggregationConfig(method="dawid_skene")).labels
    assert set(labels["method"]) == {"dawid_skene"}
    assert set(labels["label"]) == {"Bored"}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"session_id": ["s"], "label": ["Bored"]}), "missing column(s) 'annotator'"),
        (
            pd.DataFrame(
                {"session_id": ["s", "s"], "annotator": ["a", "b"], "label": ["Bored", "Happy"]}
            ),
            "row 1: unknown label 'Happy'",
        ),
        (
            pd.DataFrame(
                {"session_id": ["s", "s"], "annotator": ["a", "a"], "label": ["Bored", "Bored"]}
            ),
            "annotator 'a' voted twice on session_id 's'",
        ),
        (
            pd.DataFrame(
                {"session_id": ["s", None], "annotator": ["a", "b"], "label": ["Bored", "Bored"]}
            ),
            "column 'session_id', row 1: empty",
        ),
    ],
)
def test_bad_annotations_are_refused_with_the_row(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(VotesTableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        needs_adjudication(frame, min_votes=1)


def test_bad_adjudications_are_refused() -> None:
    table = annotations({"s1": ["Bored", "Curious", "Confused"]})
    with pytest.raises(VotesTableError, match="unknown label 'Cannot tell'"):
        aggregate_labels(
            table, pd.DataFrame({"session_id": ["s1"], "label": [ABSTAIN]}), AggregationConfig()
        )
    with pytest.raises(VotesTableError, match="without annotations"):
        aggregate_labels(
            table, pd.DataFrame({"session_id": ["zz"], "label": ["Bored"]}), AggregationConfig()
        )
    with pytest.raises(VotesTableError, match="session 's1' adjudicated twice"):
        aggregate_labels(
            table,
            pd.DataFrame({"session_id": ["s1", "s1"], "label": ["Bored", "Bored"]}),
            AggregationConfig(),
        )


class FirstVote:
    """A made-up estimator: the alphabetically first worker's class vote decides."""

    def __init__(self, *, min_votes: int = 1) -> None:
        self.min_votes = min_votes

    def fit(self, data: pd.DataFrame) -> FirstVote:
        valid = data[data["label"] != ABSTAIN].sort_values(["task", "worker"])
        self.labels_ = valid.groupby("task")["label"].first().reindex(data["task"].unique())
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_


def test_a_registered_aggregation_method_is_configurable_and_used() -> None:
    from edu_affect_data.annotation import methods
    from edu_affect_data.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=r"aggregation\.method: .*unknown aggregation method 'first_vote'; known: majority, dawid_skene"):
        load_config(None, {"aggregation.method": "first_vote"})
    methods.register_method("first_vote", FirstVote)
    try:
        assert load_config(None, {"aggregation.method": "first_vote"}).aggregation.method == "first_vote"
        result = aggregate_labels(
            annotations({"s1": ["Bored", "Curious", "Curious"], "s2": [ABSTAIN, "Confused", "Bored"]}),
            None,
            AggregationConfig(method="first_vote", min_votes=1),
        )
        assert dict(zip(result.labels["session_id"], result.labels["label"], strict=True)) == {
            "s1": "Bored",
            "s2": "Confused",
        }
        assert set(result.labels["method"]) == {"first_vote"}
        with pytest.raises(ValueError, match="not an estimator class"):
            methods.register_method("broken", object)
    finally:
        methods.METHODS.unregister("first_vote")
