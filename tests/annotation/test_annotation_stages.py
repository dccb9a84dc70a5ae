"""The annotation stages end to end on the synthetic `tiny` corpora: ingest -> annotate -> pull -> aggregate."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from edu_affect_data.annotation.client import LabelStudioSettings
from edu_affect_data.annotation.options import AggregationConfig
from edu_affect_data.annotation.simulate import session_truths
from edu_affect_data.build import STAGES, run_build
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import ANNOTATIONS_SCHEMA, LABELS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.stages.aggregate import run_aggregate
from edu_affect_data.stages.annotate import run_annotate
from edu_affect_data.stages.ingest import run_ingest
from edu_affect_data.stages.pull import run_pull
from tests.annotation.server import delete_projects
from tests.annotation.small_corpus import REPO

pytestmark = pytest.mark.labelstudio
QUIET = Console(quiet=True)


@pytest.fixture()
def tiny_build(tiny_corpora: Path, tmp_path: Path, ls_settings: LabelStudioSettings,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PipelineConfig, BuildPaths]]:
    title = f"t{uuid.uuid4().hex[:6]} tiny stages"
    config = load_config(REPO / "pipelines" / "demo.yaml", {
        "corpora.iemocap": str(tiny_corpora / "IEMOCAP_full_release"),
        "corpora.mosei": str(tiny_corpora / "CMU_MOSEI"),
        "annotation.project_title": title,
        "annotation.clip.height": 96,
    })
    monkeypatch.setenv("LABEL_STUDIO_URL", ls_settings.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", ls_settings.api_key)
    yield config, BuildPaths(tmp_path / "out")
    delete_projects(ls_settings, title)


def test_ingest_annotate_aggregate_on_the_tiny_corpora(tiny_build: tuple[PipelineConfig, BuildPaths]) -> None:
    config, paths = tiny_build
    assert run_ingest(config, paths).complete
    kept = {r["session_id"] for r in pq.read_table(paths.sessions).to_pylist() if r["status"] == "kept"}
    assert kept
    with ProcessPoolExecutor(2) as executor:
        annotated = run_annotate(config, paths, executor=executor)
    assert annotated.complete and annotated.message == f"{len(kept)}/{len(kept)} sessions annotated"
    # demo.yaml is adaptive: two votes per session, a third on each session the first two disagree on.
    assert annotated.stats["simulated_votes"] == 2 * len(kept) + annotated.stats["escalated"]

    pulled = run_pull(config, paths)
    assert pulled.complete, pulled.message
    assert pulled.stats["adjudicated"] == pulled.stats["adjudication_queue"]
    aggregated = run_aggregate(config, paths)
    assert aggregated.complete, aggregated.message
    annotations = pq.read_table(paths.annotations)
    assert annotations.schema.equals(ANNOTATIONS_SCHEMA) and annotations.num_rows == annotated.stats["simulated_votes"]
    labels = pq.read_table(paths.labels)
    assert labels.schema.equals(LABELS_SCHEMA)
    assert set(labels.column("session_id").to_pylist()) == kept
    assert (paths.agreement_dir / "agreement.md").exists()
    # Adaptive overlap: the agreement figures use each session's first two ratings only.
    agreement = json.loads((paths.agreement_dir / "agreement.json").read_text())
    assert max(int(n) for n in agreement["ratings_per_session"]) == 2
    assert any(note.startswith("Only the first 2 ratings of every session count") for note in agreement["notes"])
    assert aggregated.stats["adjudicated"] == aggregated.stats["adjudication_queue"]
    sessions = [r for r in read_sessions(paths).to_pylist() if r["session_id"] in kept]
    assert config.annotation.simulate is not None
    truth = session_truths(config.annotation.simulate, sessions)
    right = sum(r["label"] == truth[r["session_id"]] for r in labels.to_pylist())
    assert right / len(kept) >= 0.75  # two or three 89-94 % annotators and a 95 % reviewer


def test_changing_the_aggregation_method_reruns_only_aggregate(
    build: tuple[PipelineConfig, BuildPaths], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, paths = build
    stages = [spec for spec in STAGES if spec.name in {"annotate", "pull", "aggregate"}]
    first = run_build(config, paths.out, stages=stages, console=QUIET)
    assert first.complete and first.ran == ("annotate", "pull", "aggregate"), first.message
    majority = pq.read_table(paths.labels).to_pandas()
    assert set(majority["method"]) <= {"majority", "adjudicated"}

    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")  # aggregate must not need the server
    other = config.model_copy(update={"aggregation": AggregationConfig(method="dawid_skene", min_votes=2)})
    second = run_build(other, paths.out, stages=stages, console=QUIET)
    assert second.complete, second.message
    assert (second.ran, second.skipped) == (("aggregate",), ("annotate", "pull"))
    dawid_skene = pq.read_table(paths.labels).to_pandas()
    assert set(dawid_skene["method"]) <= {"dawid_skene", "adjudicated"} and "dawid_skene" in set(dawid_skene["method"])
    assert list(dawid_skene["session_id"]) == list(majority["session_id"])
