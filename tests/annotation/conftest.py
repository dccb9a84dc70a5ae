"""Fixtures of the annotation tests: the small corpus (``small_corpus.py``) and the local server.

Integration tests (``@pytest.mark.labelstudio``) use the server that ``make test`` starts with
``scripts/labelstudio.sh``. Without one they fail under CI (``CI=true``) and skip locally.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edu_affect_data.annotation.client import (
    LabelStudioSettings,
    RetryPolicy,
)
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import BuildPaths
from tests.annotation.server import delete_projects, running_server
from tests.annotation.small_corpus import LABELING_CONFIG, SmallCorpus, write_corpus


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> SmallCorpus:
    return write_corpus(tmp_path_factory.mktemp("annotation_corpus"))


@pytest.fixture(scope="session")
def ls_settings() -> LabelStudioSettings:
    """The running server (short retries so a broken test fails fast)."""
    settings = running_server()
    return LabelStudioSettings(settings.url, settings.api_key, settings.document_root, settings.origin,
                               RetryPolicy(attempts=3, first_delay_s=0.5, max_delay_s=1.0))


@pytest.fixture()
def build(tmp_path: Path, small_corpus: SmallCorpus, ls_settings: LabelStudioSettings,
          request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PipelineConfig, BuildPaths]]:
    """A build folder with the sessions table, a config with its own project title, cleaned up after."""
    paths = BuildPaths(tmp_path / "out")
    paths.sessions.parent.mkdir(parents=True)
    paths.sessions.write_bytes(small_corpus.sessions.read_bytes())
    title = f"t{uuid.uuid4().hex[:6]} {request.node.name.removeprefix('test_')}"[:35]
    config = load_config(None, {
        "annotation.project_title": title,
        "annotation.labeling_config": str(LABELING_CONFIG),
        "annotation.batch_size": 2,
        "annotation.clip.height": 120,
        "annotation.simulate": {
            "truth": str(small_corpus.truth),
            "annotators": [
                {"name": "sim-test-ann1", "accuracy": 0.9, "cannot_tell": 0.0},
                {"name": "sim-test-ann2", "accuracy": 0.8, "cannot_tell": 0.1, "bias": "Bored"},
                {"name": "sim-test-ann3", "accuracy": 0.7, "cannot_tell": 0.1, "bias": "Confused"},
            ],
            "reviewer_accuracy": 1.0,
        },
    })
    for variable, value in (("LABEL_STUDIO_URL", ls_settings.url), ("LABEL_STUDIO_API_KEY", ls_settings.api_key)):
        monkeypatch.setenv(variable, value)
    yield config, paths
    delete_projects(ls_settings, title)
