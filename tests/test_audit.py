"""`edu-data why` and `edu-data sessions`: a session's fate read back from the build's artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from edu_affect_data.audit import AuditError, describe, explain, session_table
from edu_affect_data.cli import app
from edu_affect_data.core.artifacts import ADJUDICATIONS_SCHEMA, ANNOTATIONS_SCHEMA, BuildPaths
from tests.features.fake_build import published_build

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildPaths:
    """A copy of the published test build (split, features, dataset), so a test may add tables."""
    source = published_build(tmp_path_factory.getbasetemp())
    copy = tmp_path_factory.mktemp("audit") / "build"
    shutil.copytree(source.out, copy, symlinks=True)
    return BuildPaths(copy)


def test_a_published_session_is_followed_through_every_stage(build: BuildPaths) -> None:
    fate = explain(build, "Ses01F_impro01_F001")
    assert (fate.status, fate.label, fate.label_method) == ("kept", fate.label, "majority")
    assert fate.split in ("train", "validation", "test")
    assert fate.published == fate.split  # its row is in the shard of its split
    assert fate.features == ("mfcc", "frames", "text")
    assert fate.votes is None  # this build has labels but no pulled votes: said, not guessed
    text = "\n".join(describe(fate))
    assert "votes      none pulled yet" in text and f"dataset    published in {fate.split}" in text


def test_a_dropped_session_names_its_gap_in_recording_and_session_seconds(build: BuildPaths) -> None:
    sessions = pq.read_table(build.sessions).to_pylist()
    gap = next(r for r in sessions if r["status"] == "gap")
    gap.update(reason="video gap 0.60 s (black) at 0.20-0.80", gap_video_s=0.6, gap_video_start_s=gap["start_s"] + 0.2)
    rows = [gap if r["session_id"] == gap["session_id"] else r for r in sessions]
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(build.sessions)), build.sessions)
    fate = explain(build, gap["session_id"])
    assert (fate.status, fate.split, fate.published) == ("gap", None, None)
    (video,) = [g for g in fate.gaps if g.modality == "video"]
    assert video.recording_s == pytest.approx(gap["start_s"] + 0.2) and video.session_s == pytest.approx(0.2)
    text = "\n".join(describe(fate))
    assert f"from {gap['start_s'] + 0.2:.2f} s of the recording (0.20 s into the session)" in text
    assert "not kept: never annotated, labelled, split or published" in text


def test_votes_and_the_reviewer_come_from_the_pulled_tables(build: BuildPaths) -> None:
    session = "Ses01F_impro01_M000"
    votes = [
        {"session_id": session, "task_id": 1, "annotator": f"ann0{k}", "label": label, "lead_time": 1.0,
         "created_at": "", "updated_at": "", "annotation_id": k}
        for k, label in enumerate(["Bored", "Confused", "Cannot tell"], start=1)
    ]
    decision = {"session_id": session, "task_id": 9, "reviewer": "rev01", "label": "Bored", "created_at": "",
                "updated_at": "", "annotation_id": 9}
    pq.write_table(pa.Table.from_pylist(votes, schema=ANNOTATIONS_SCHEMA), build.annotations)
    pq.write_table(pa.Table.from_pylist([decision], schema=ADJUDICATIONS_SCHEMA), build.adjudications)
    try:
        fate = explain(build, session)
        assert fate.votes == (("ann01", "Bored"), ("ann02", "Confused"), ("ann03", "Cannot tell"))
        assert fate.adjudication == ("rev01", "Bored")
        lines = describe(fate)
        assert "  votes      3: Bored (ann01), Confused (ann02), Cannot tell (ann03)" in lines
        assert "  reviewer   Bored (rev01)" in lines
    finally:
        build.annotations.unlink()
        build.adjudications.unlink()


def test_an_unknown_session_is_a_user_error_with_a_suggestion(build: BuildPaths, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="did you mean Ses01F_impro01_F000"):
        explain(build, "ses01f_impro01_f00")
    result = RUNNER.invoke(app, ["why", "nope", "--out", str(build.out)])
    assert result.exit_code == 2 and "is not a candidate" in result.output
    result = RUNNER.invoke(app, ["why", "x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no manifest" in result.output


def test_sessions_lists_and_filters_every_candidate(build: BuildPaths) -> None:
    table = session_table(build)
    assert len(table) == len(pq.read_table(build.sessions))
    result = RUNNER.invoke(app, ["sessions", "--out", str(build.out), "--status", "gap", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows and {r["status"] for r in rows} == {"gap"} and all(r["split"] is None for r in rows)
    result = RUNNER.invoke(app, ["sessions", "--out", str(build.out), "--split", "test", "--format", "csv"])
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("session_id,corpus,speaker_id") and all(",test" in line for line in lines[1:])
    assert RUNNER.invoke(app, ["sessions", "--out", str(build.out), "--status", "lost"]).exit_code == 2
