"""Invalid annotations, waiting states, status and the senior reviewer's round on the real server."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.accounts import Account, ensure_account
from edu_affect_data.annotation.client import LabelStudioSettings, connect
from edu_affect_data.annotation.layout import AnnotationPaths
from edu_affect_data.annotation.simulated_people import choice_result
from edu_affect_data.annotation.status import campaign_status
from edu_affect_data.annotation.tasks import task_session_ids
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import LABELS_SCHEMA
from edu_affect_data.stages.aggregate import run_aggregate
from edu_affect_data.stages.annotate import run_annotate
from edu_affect_data.stages.pull import run_pull
from tests.annotation.small_corpus import SmallCorpus

pytestmark = pytest.mark.labelstudio
PEOPLE = ("test-rev-a", "test-rev-b", "test-rev-c")


def without_simulation(config: PipelineConfig) -> PipelineConfig:
    return config.model_copy(update={"annotation": config.annotation.model_copy(update={"simulate": None})})


def vote(settings: LabelStudioSettings, account: Account, task_id: int, result: list[dict[str, Any]], **extra: Any) -> None:
    connect(settings, account.api_key).annotations.create(id=task_id, result=result, **extra)


@pytest.fixture()
def people(ls_settings: LabelStudioSettings) -> list[Account]:
    return [ensure_account(ls_settings, f"{name}@example.org") for name in PEOPLE]


def test_invalid_annotations_are_excluded_with_reasons(build, ls_settings: LabelStudioSettings, people: list[Account]) -> None:
    config, paths = build
    campaign = campaigns.open_campaign(without_simulation(config), paths, ls_settings)
    project_id = campaigns.push(campaign).project_id
    tasks = {s: ids[0] for s, ids in task_session_ids(campaign.ls, ls_settings, project_id).items()}
    a, b, c = people
    s0, s1 = tasks["Ses01F_impro01_M_s0"], tasks["Ses01F_impro01_F_s0"]
    vote(ls_settings, a, s0, choice_result("Bored"))
    vote(ls_settings, a, s0, choice_result("Curious"))  # a second vote by the same person
    vote(ls_settings, b, s0, choice_result("Sleepy"))  # not a label of the interface
    vote(ls_settings, c, s0, [])  # required is enforced only in the browser
    vote(ls_settings, b, s1, [], was_cancelled=True)  # skipped
    vote(ls_settings, c, s1, choice_result("Curious"))

    pulled = campaigns.pull(campaign)
    excluded = pd.read_csv(AnnotationPaths.of(paths, config.annotation).excluded)
    reasons = sorted(excluded["reason"].str.split(":").str[0].str.split(" ").str[0])
    assert reasons == ["cancelled", "duplicate", "empty", "unknown"]
    assert set(excluded["session_id"]) == {"Ses01F_impro01_M_s0", "Ses01F_impro01_F_s0"}
    valid = pulled.annotations
    assert sorted(zip(valid["session_id"], valid["label"], strict=True)) == [
        ("Ses01F_impro01_F_s0", "Curious"), ("Ses01F_impro01_M_s0", "Bored")
    ]
    # s0 has 4 submitted annotations (>= 3): Label Studio is done with it despite one valid vote.
    assert campaigns.complete_sessions(campaign, pulled.tasks) == {"Ses01F_impro01_M_s0"}


def test_adjudication_end_to_end(
    build, ls_settings: LabelStudioSettings, people: list[Account], small_corpus: SmallCorpus
) -> None:
    config, paths = build
    people_only = without_simulation(config)
    waiting = run_annotate(people_only, paths)
    assert not waiting.complete and waiting.message == "waiting for annotations: 0/5 sessions complete"
    campaign = campaigns.open_campaign(people_only, paths, ls_settings)
    tasks = {s: ids[0] for s, ids in task_session_ids(campaign.ls, ls_settings, campaign.project_id()).items()}
    plan = {
        "Ses01F_impro01_M_s0": ("Bored", "Bored", "Curious"),  # majority
        "Ses01F_impro01_F_s0": ("Curious", "Bored", "Frustrated"),  # all differ -> reviewer
        "Ses01F_impro01_M_s1": ("Cannot tell", "Cannot tell", "Frustrated"),  # abstentions -> reviewer
        "mosei_vidA_s0": ("Confused", "Confused", "Confused"),
        "mosei_vidA_s1": ("Frustrated", "Frustrated", "Cannot tell"),  # 2 of 3: majority
    }
    for session, labels in plan.items():
        for account, label in zip(people, labels, strict=True):
            vote(ls_settings, account, tasks[session], choice_result(label))
    assert run_annotate(people_only, paths).complete

    stalled = run_pull(people_only, paths)
    assert not stalled.complete and stalled.message == "waiting for adjudication: 0/2 sessions decided"
    state = campaign_status(campaign)
    assert (state.sessions, state.complete, state.adjudication_queue, state.adjudicated) == (5, 5, 2, 0)
    assert state.votes_per_annotator == {"ann01": 5, "ann02": 5, "ann03": 5}  # abstentions are votes
    review_id = campaign.review_project_id()
    assert review_id is not None
    review_tasks = json.loads(campaigns.export.download_export(campaign.ls, ls_settings, review_id))
    shown = {t["data"]["session_id"]: t["data"]["votes"] for t in review_tasks}
    assert shown == {
        "Ses01F_impro01_F_s0": "ann01: Curious\nann02: Bored\nann03: Frustrated",
        "Ses01F_impro01_M_s1": "ann01: Cannot tell\nann02: Cannot tell\nann03: Frustrated",
    }

    pulled = run_pull(config, paths)  # the simulated reviewer (accuracy 1.0) decides
    assert pulled.complete, pulled.message
    assert pulled.stats["adjudicated"] == pulled.stats["adjudication_queue"] == 2
    assert pq.read_table(paths.adjudications).num_rows == 2
    done = run_aggregate(config, paths)
    assert done.complete, done.message
    labels = pq.read_table(paths.labels)
    assert labels.schema.equals(LABELS_SCHEMA)
    by_session = {r["session_id"]: (r["label"], r["method"]) for r in labels.to_pylist()}
    assert by_session == {
        "Ses01F_impro01_M_s0": ("Bored", "majority"),
        "Ses01F_impro01_F_s0": (small_corpus.truth_of("Ses01F_impro01_F_s0"), "adjudicated"),
        "Ses01F_impro01_M_s1": (small_corpus.truth_of("Ses01F_impro01_M_s1"), "adjudicated"),
        "mosei_vidA_s0": ("Confused", "majority"),
        "mosei_vidA_s1": ("Frustrated", "majority"),
    }
    assert (paths.agreement_dir / "agreement.json").exists()
    assert campaign_status(campaign).adjudicated == 2
    assert run_pull(config, paths).stats["adjudicated"] == 2  # a rerun adds no second decision
    assert run_aggregate(config, paths).stats["adjudicated"] == 2
