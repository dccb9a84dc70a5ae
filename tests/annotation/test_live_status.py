"""`edu-data annotate status`: live agreement and the drift flag against the real local server.

Three simulated annotators vote through the API on a campaign of 48 sessions cut from the small
corpus' recordings; one of them (``SimulatedAnnotator.drift``) drops from accuracy 0.9 to 0.2
after 20 votes. The campaign runs in two pushes, as a lab's would grow: after 30 sessions nobody
has enough votes to be tested; after all 48 the drifter's last 20 votes all fall after the drop.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from matplotlib.image import imread
from typer.testing import CliRunner

from edu_affect_data.annotation.accounts import simulated_email
from edu_affect_data.annotation.layout import AnnotationPaths
from edu_affect_data.annotation.options import DriftConfig, SimulateConfig
from edu_affect_data.annotation.pseudonyms import Pseudonyms
from edu_affect_data.cli import app
from edu_affect_data.cli.annotate import status_plot_path
from edu_affect_data.core.artifacts import SESSIONS_SCHEMA
from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.stages.annotate import run_annotate
from tests.annotation.small_corpus import SmallCorpus

pytestmark = pytest.mark.labelstudio

SESSIONS = 48
FIRST_PUSH = 30
DRIFTER = "sim-live-drifter"
STEADY = ("sim-live-steady1", "sim-live-steady2")


def write_campaign_sessions(small_corpus: SmallCorpus, sessions_path, truth_path, n: int) -> None:
    """``n`` kept one-unit sessions on the small corpus' recordings, each with a seeded true emotion."""
    templates = [row for row in pq.read_table(small_corpus.sessions).to_pylist() if row["status"] == "kept"]
    emotions = np.random.default_rng(12).integers(len(CLASSES), size=n)
    rows, units = [], []
    for k in range(n):
        template = templates[k % len(templates)]
        session_id = f"{template['session_id']}_live{k:02d}"
        unit = f"{session_id}_u0"
        rows.append({**template, "session_id": session_id, "utterance_ids": [unit]})
        units.append({"corpus": template["corpus"], "id": unit, "recording": template["source_id"],
                      "speaker": template["speaker_id"], "emotion": CLASSES[emotions[k]],
                      "start_s": template["start_s"], "end_s": template["end_s"]})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=SESSIONS_SCHEMA), sessions_path)
    truth_path.write_text(json.dumps({"profile": "test", "seed": 0, "faults": [], "broken_files": [], "units": units}))


def status_json(runner: CliRunner, args: list[str]) -> dict:
    result = runner.invoke(app, ["annotate", "status", *args, "--format", "json"])
    document = json.loads(result.stdout)
    assert result.exit_code == (3 if document["waiting"] else 0), result.output
    return document


def test_status_flags_the_drifting_annotator_only_and_its_kappas_are_the_post_hoc_ones(
    build, tmp_path, small_corpus: SmallCorpus
) -> None:
    config, paths = build
    truth = tmp_path / "synth_truth.json"
    simulate = SimulateConfig(
        truth=truth,
        annotators=[
            {"name": STEADY[0], "accuracy": 0.9},
            {"name": DRIFTER, "accuracy": 0.9, "drift": {"after": 20, "accuracy": 0.2}},
            {"name": STEADY[1], "accuracy": 0.85},
        ],
        reviewer_accuracy=1.0,
    )
    annotation = config.annotation.model_copy(
        update={"simulate": simulate, "drift": DriftConfig(window=20, min_earlier=20, alpha=0.01)}
    )
    config = config.model_copy(update={"annotation": annotation})
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    runner = CliRunner()
    args = [str(pipeline), "--out", str(paths.out)]

    # The first 30 sessions: everybody has 30 votes, fewer than window + min_earlier = 40.
    write_campaign_sessions(small_corpus, paths.sessions, truth, SESSIONS)
    everything = pq.read_table(paths.sessions)
    pq.write_table(everything.slice(0, FIRST_PUSH), paths.sessions)
    assert run_annotate(config, paths).stats["simulated_votes"] == 3 * FIRST_PUSH
    early = status_json(runner, args)
    assert (early["sessions"], early["complete"]) == (FIRST_PUSH, FIRST_PUSH)
    assert early["live"]["flagged"] == []
    assert [a["drift"]["tested"] for a in early["live"]["annotators"]] == [False] * 3
    assert all(a["drift"]["note"].startswith("30 votes; needs 40") for a in early["live"]["annotators"])

    # All 48: the drifter's last 20 votes (their 29th to 48th) are all past the drop after vote 20.
    pq.write_table(everything, paths.sessions)
    assert run_annotate(config, paths).stats["simulated_votes"] == 3 * (SESSIONS - FIRST_PUSH)
    state = status_json(runner, args)
    names = Pseudonyms(AnnotationPaths.of(paths, config.annotation).annotators)
    drifter = names.get(simulated_email(DRIFTER))
    assert drifter is not None and state["live"]["flagged"] == [drifter]
    people = {a["annotator"]: a for a in state["live"]["annotators"]}
    assert sorted(people) == sorted(state["votes_per_annotator"]) and len(people) == 3
    assert all(person["votes"] == SESSIONS and person["drift"]["tested"] for person in people.values())
    verdict = people[drifter]["drift"]
    assert verdict["flagged"] and verdict["comparisons_fired"]
    for test in verdict["tests"]:
        if test["fired"]:
            assert test["p_holm"] <= 0.01 and test["recent"]["estimate"] < test["reference"]["estimate"]
    assert [name for name, person in people.items() if person["drift"]["flagged"]] == [drifter]

    # The live kappas are `edu-data agreement`'s on the pulled table, intervals included.
    pulled = runner.invoke(app, ["annotate", "pull", *args])
    assert pulled.exit_code == 0, pulled.output
    report = runner.invoke(app, ["agreement", "--out", str(paths.out), "--format", "json",
                                 "--seed", str(config.seed), "--n-boot", "1000"])  # fmt: skip
    assert report.exit_code == 0, report.output
    post_hoc = json.loads(report.stdout)
    assert state["live"]["pairwise_kappa"] == post_hoc["cohen_kappa_pairwise"]
    assert state["live"]["kappa_mean"] == post_hoc["cohen_kappa_mean"]
    assert [p["n"] for p in state["live"]["pairwise_kappa"]] == [SESSIONS] * 3

    # The plot, at its default place, and the table form of the same status.
    plot = status_plot_path(paths.annotation_dir)
    assert state["plot"] == str(plot) and imread(plot).shape[:2][0] > 100
    table = runner.invoke(app, ["annotate", "status", *args])
    assert table.exit_code == (3 if state["waiting"] else 0)
    assert "Live agreement" in table.stdout and "DRIFT: below" in table.stdout
    assert f"{drifter} DRIFT over the last 20 votes" in table.stdout
    assert "Cohen's kappa per annotator pair" in table.stdout
