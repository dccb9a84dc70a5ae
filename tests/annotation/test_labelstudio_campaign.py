"""Push, simulated annotation and pull against the real local Label Studio server."""

from __future__ import annotations

import json
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.client import LabelStudioError, LabelStudioSettings, connect
from edu_affect_data.annotation.labeling import annotator_config, reviewer_config
from edu_affect_data.annotation.layout import AnnotationPaths
from edu_affect_data.annotation.tasks import ensure_project, task_session_ids
from edu_affect_data.core.artifacts import ANNOTATIONS_SCHEMA
from edu_affect_data.stages.annotate import run_annotate
from tests.annotation.small_corpus import LABELING_CONFIG, SmallCorpus

pytestmark = pytest.mark.labelstudio


def test_the_labeling_configs_are_accepted_and_a_broken_one_is_not(build, ls_settings: LabelStudioSettings) -> None:
    config, _ = build
    ls = connect(ls_settings)
    title = config.annotation.project_title
    for name, xml in ((title, annotator_config(LABELING_CONFIG, 25)), (f"{title} (adjudication)", reviewer_config(LABELING_CONFIG, 25))):
        project_id = ensure_project(ls, ls_settings, title=name, label_config=xml, maximum_annotations=3)
        stored = ls.projects.get(id=project_id)
        assert 'frameRate="25"' in str(stored.label_config) and stored.maximum_annotations == 3
    broken = annotator_config(LABELING_CONFIG, 25).replace('toName="video"', 'toName="nowhere"', 1)
    with pytest.raises(LabelStudioError, match="HTTP 400"):
        ensure_project(ls, ls_settings, title=f"{title} broken", label_config=broken, maximum_annotations=1)


def test_push_twice_gives_the_same_tasks_and_new_sessions_only_are_added(
    build, ls_settings: LabelStudioSettings, small_corpus: SmallCorpus
) -> None:
    config, paths = build
    campaign = campaigns.open_campaign(config, paths, ls_settings)
    first = campaigns.push(campaign)
    assert (first.created, first.already_there) == (5, 0)
    again = campaigns.push(campaign)
    assert (again.project_id, again.created, again.already_there) == (first.project_id, 0, 5)
    tasks = task_session_ids(campaign.ls, ls_settings, first.project_id)
    assert sorted(tasks) == sorted(small_corpus.kept()) and all(len(ids) == 1 for ids in tasks.values())

    table = pq.read_table(paths.sessions).to_pandas()
    table.loc[table["status"] == "gap", "status"] = "kept"
    table.to_parquet(paths.sessions)
    third = campaigns.push(campaign)
    assert (third.created, third.already_there) == (1, 5)
    assert len(task_session_ids(campaign.ls, ls_settings, first.project_id)) == 6

    task = campaign.ls.tasks.get(id=str(tasks["mosei_vidA_s0"][0]))
    data = task.data or {}
    assert data["video"] == data["audio"] and data["video"].startswith("/data/local-files/?d=")
    served = requests.get(ls_settings.url + data["video"], headers={"Authorization": f"Token {ls_settings.api_key}"}, timeout=30)
    clip = AnnotationPaths.of(paths, config.annotation).media_root / "clips" / "mosei_vidA_s0.mp4"
    assert served.status_code == 200 and served.content == clip.read_bytes()
    assert data["transcript"].startswith("[00:00.0] * mosei_vidA: words of unit 0")


def test_preannotations_come_from_the_source_labels(build, ls_settings: LabelStudioSettings) -> None:
    config, paths = build
    config = config.model_copy(update={"annotation": config.annotation.model_copy(update={"preannotate": True})})
    campaign = campaigns.open_campaign(config, paths, ls_settings)
    result = campaigns.push(campaign)
    tasks = task_session_ids(campaign.ls, ls_settings, result.project_id)
    suggested = {
        session: [p.result[0]["value"]["choices"][0] for p in campaign.ls.predictions.list(task=ids[0])]
        for session, ids in tasks.items()
    }
    # IEMOCAP `fru` -> Frustrated; MOSEI's strongest emotion is surprise -> `sur` -> Curious.
    assert suggested["Ses01F_impro01_M_s0"] == ["Frustrated"] and suggested["mosei_vidA_s1"] == ["Curious"]


def test_simulated_annotators_vote_as_themselves_and_pull_is_stable(build, ls_settings: LabelStudioSettings) -> None:
    config, paths = build
    outcome = run_annotate(config, paths)
    assert outcome.complete and outcome.stats["simulated_votes"] == 15, outcome
    assert run_annotate(config, paths).stats["simulated_votes"] == 0  # accounts and votes reused

    campaign = campaigns.open_campaign(config, paths, ls_settings)
    raw = json.loads(campaigns.export.download_export(campaign.ls, ls_settings, campaign.project_id()))
    assert all(len({a["completed_by"] for a in t["annotations"]}) == 3 for t in raw)
    assert len({a["completed_by"] for t in raw for a in t["annotations"]}) == 3

    first = campaigns.pull(campaign)
    table = pq.read_table(paths.annotations)
    assert table.schema.equals(ANNOTATIONS_SCHEMA) and table.num_rows == 15
    votes = table.to_pandas()
    assert sorted(votes["annotator"].unique()) == ["ann01", "ann02", "ann03"]
    assert votes.groupby("session_id")["annotator"].nunique().eq(3).all()
    mapping = AnnotationPaths.of(paths, config.annotation).annotators
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600
    assert "ann01,sim-test-ann1@example.org" in mapping.read_text()
    assert [t["id"] for t in json.loads(first.snapshot.read_bytes())] == [t["id"] for t in raw]

    second = campaigns.pull(campaign)
    assert second.snapshot != first.snapshot and first.snapshot.exists()
    pd.testing.assert_frame_equal(pq.read_table(paths.annotations).to_pandas(), votes)
