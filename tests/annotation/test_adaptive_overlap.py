"""Adaptive overlap: the rule on its own, then on the real server (escalation, restart, simulation)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.accounts import Account, ensure_account
from edu_affect_data.annotation.agreement import compute_agreement, first_ratings
from edu_affect_data.annotation.client import LabelStudioSettings, RetryPolicy, connect
from edu_affect_data.annotation.export import TaskProgress
from edu_affect_data.annotation.options import AnnotationConfig
from edu_affect_data.annotation.overlap import (
    complete_sessions,
    required_annotations,
    server_overlaps,
)
from edu_affect_data.annotation.simulated_people import choice_result
from edu_affect_data.annotation.tasks import task_session_ids
from edu_affect_data.cli import app
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.vocabulary import ABSTAIN
from edu_affect_data.stages.annotate import run_annotate
from tests.annotation.server import second_server

ADAPTIVE = AnnotationConfig.model_validate({"overlap": {"initial": 2, "max": 3}})
FIXED = AnnotationConfig.model_validate({"overlap": {"initial": 3, "max": 3}})


def task(*answers: str | None, task_id: int = 1) -> TaskProgress:
    valid = sum(a is not None for a in answers)
    return TaskProgress("s", task_id, valid, len(answers), tuple(answers))


@pytest.mark.parametrize(
    ("answers", "needed"),
    [
        ((), 2),
        (("Bored",), 2),  # waiting for the second vote: nothing to decide yet
        (("Bored", "Bored"), 2),  # agreed: done at two
        (("Bored", "Curious"), 3),  # disagreed: a third person
        (("Bored", ABSTAIN), 3),  # "Cannot tell" is no evidence for a label
        ((ABSTAIN, ABSTAIN), 3),
        (("Bored", None), 3),  # an annotation the pull left out (unknown label, empty)
        (("Bored", "Bored", "Curious"), 2),  # later votes do not undo an agreement
        (("Bored", "Curious", "Curious"), 3),
    ],
)
def test_adaptive_rule(answers: tuple[str | None, ...], needed: int) -> None:
    assert required_annotations(task(*answers), ADAPTIVE) == needed


def test_fixed_overlap_never_escalates_and_gold_needs_its_own_overlap() -> None:
    assert required_annotations(task("Bored", "Curious", "Frustrated"), FIXED) == 3
    assert required_annotations(task(), ADAPTIVE, gold=True) == 3
    gold = AnnotationConfig.model_validate(
        {"overlap": {"initial": 2, "max": 3}, "gold": {"file": "gold.csv", "overlap": 5}}
    )
    assert required_annotations(task("Bored", "Bored"), gold, gold=True) == 5


def test_complete_counts_submitted_annotations_against_each_tasks_need() -> None:
    tasks = [task("Bored", "Bored", task_id=1), task("Bored", "Curious", task_id=2), task("Bored", None, "Bored", task_id=3)]
    tasks = [TaskProgress(f"s{t.task_id}", t.task_id, t.valid_votes, t.submitted, t.answers) for t in tasks]
    required = {t.task_id: required_annotations(t, ADAPTIVE) for t in tasks}
    assert required == {1: 2, 2: 3, 3: 3}
    assert complete_sessions(tasks, required) == {"s1", "s3"}


def test_initial_above_max_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"overlap.initial \(3\) exceeds overlap.max \(2\)"):
        AnnotationConfig.model_validate({"overlap": {"initial": 3, "max": 2}})


# ------------------------------------------------------------------------- on the real server
PEOPLE = ("test-adapt-a", "test-adapt-b", "test-adapt-c")


def adaptive(config: PipelineConfig, *, simulate: bool = True) -> PipelineConfig:
    update: dict[str, object] = {"overlap": ADAPTIVE.overlap}
    if not simulate:
        update["simulate"] = None
    return config.model_copy(update={"annotation": config.annotation.model_copy(update=update)})


def next_task(settings: LabelStudioSettings, account: Account, project_id: int) -> int | None:
    """The task Label Studio's labeling stream hands this person next (None: nothing for them)."""
    answer = requests.get(
        f"{settings.url}/api/projects/{project_id}/next",
        headers={"Authorization": f"Token {account.api_key}"},
        timeout=30,
    )
    return int(answer.json()["id"]) if answer.status_code == 200 else None


@pytest.mark.labelstudio
def test_agreeing_pairs_stop_at_two_disagreeing_get_a_third_even_after_a_restart(
    build, ls_settings: LabelStudioSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, paths = build
    with second_server(ls_settings, tmp_path / "ls", RetryPolicy(10, 1.0, 4.0)) as server:
        settings = server.settings
        monkeypatch.setenv("LABEL_STUDIO_URL", settings.url)
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", settings.api_key)
        people_only = adaptive(config, simulate=False)
        campaign = campaigns.open_campaign(people_only, paths, settings)
        project_id = campaigns.push(campaign).project_id
        tasks = {s: ids[0] for s, ids in task_session_ids(campaign.ls, settings, project_id).items()}
        assert set(server_overlaps(campaign.ls, settings, project_id).values()) == {2}
        a, b, c = (ensure_account(settings, f"{name}@example.org") for name in PEOPLE)
        agreed, disagreed = tasks["Ses01F_impro01_M_s0"], tasks["Ses01F_impro01_F_s0"]
        for person, label in ((a, "Bored"), (b, "Bored")):
            connect(settings, person.api_key).annotations.create(id=agreed, result=choice_result(label))
        for person, label in ((a, "Bored"), (b, "Curious")):
            connect(settings, person.api_key).annotations.create(id=disagreed, result=choice_result(label))
        assert next_task(settings, c, project_id) not in (None, agreed, disagreed)

        server.stop()
        server.start()  # the escalation state lives in the server's database and in the votes
        assert campaigns.escalate(campaign) == 1
        assert campaigns.escalate(campaign) == 0  # idempotent
        overlaps = server_overlaps(campaign.ls, settings, project_id)
        assert (overlaps[agreed], overlaps[disagreed]) == (2, 3)
        done, total = campaigns.progress(campaign)
        assert (done, total) == ({"Ses01F_impro01_M_s0"}, 5)

        # The server now hands the disagreed task to the third person, never the agreed one.
        seen = set()
        for _ in range(len(tasks)):
            task_id = next_task(settings, c, project_id)
            if task_id is None:
                break
            seen.add(task_id)
            connect(settings, c.api_key).annotations.create(id=task_id, result=choice_result("Curious"))
        assert disagreed in seen and agreed not in seen
        done, _ = campaigns.progress(campaign)
        assert {"Ses01F_impro01_M_s0", "Ses01F_impro01_F_s0"} <= done


@pytest.mark.labelstudio
def test_simulated_adaptive_campaign_takes_two_or_three_votes_by_agreement(build) -> None:
    config, paths = build
    outcome = run_annotate(adaptive(config), paths)
    assert outcome.complete, outcome.message
    campaign = campaigns.open_campaign(adaptive(config), paths)
    pulled = campaigns.pull(campaign)
    assert len(pulled.tasks) == 5
    for progress in pulled.tasks:
        first = progress.answers[:2]
        agreed = first[0] == first[1] and first[0] not in (None, ABSTAIN)
        assert progress.submitted == (2 if agreed else 3), progress
    counts = {t.session_id: t.submitted for t in pulled.tasks}
    assert outcome.stats["escalated"] == sum(n == 3 for n in counts.values())
    required = campaigns.required_annotations(campaign, pulled.tasks)
    assert server_overlaps(campaign.ls, campaign.settings, campaign.project_id()) == required


# ------------------------------------------------------------- agreement under adaptive overlap
ESCALATED = pd.DataFrame(
    [
        ("s0", "a", "Bored", 1), ("s0", "b", "Bored", 2),  # agreed at two
        ("s1", "a", "Bored", 3), ("s1", "b", "Curious", 4), ("s1", "c", "Curious", 5),  # raised
        ("s2", "c", "Confused", 6), ("s2", "a", "Confused", 7),
        ("s3", "b", "Frustrated", 9), ("s3", "c", "Bored", 8), ("s3", "a", "Bored", 10),  # ids out of row order
    ],
    columns=["session_id", "annotator", "label", "annotation_id"],
)  # fmt: skip


def test_first_ratings_keep_each_sessions_ratings_before_escalation() -> None:
    kept = first_ratings(ESCALATED, 2)
    assert sorted(kept["annotation_id"]) == [1, 2, 3, 4, 6, 7, 8, 9]
    report = compute_agreement(ESCALATED, n_boot=0, first=2)
    assert report.ratings_per_session == {2: 4} and report.n_ratings == 8
    assert report.notes[-1].startswith(
        "Only the first 2 ratings of every session count (2 later rating(s) left out; "
        "sessions by number of votes in the campaign: 2 with 2, 2 with 3): under adaptive overlap"
    )
    # With the later ratings, the sessions that kept two agree by construction: a different figure.
    everything = compute_agreement(ESCALATED, n_boot=0)
    assert everything.ratings_per_session == {2: 2, 3: 2}
    assert report.observed_agreement.estimate == pytest.approx(0.5)  # s0, s2 agree; s1, s3 do not


def test_agreement_command_takes_first(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    ESCALATED.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(path), "--first", "2", "--n-boot", "0", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ratings_per_session"] == {"2": 4}
