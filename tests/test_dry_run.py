"""Why a stage runs: one reason per cause, the same in `build --dry-run` and in the build's log.

Each test makes one cause (a config key, a corpus folder, a tampered output, nothing) and checks
that the dry run names it, that it writes nothing, and that the real build then runs exactly the
stages the dry run said and prints the same reason on its "running because" line.
"""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import edu_affect_data.build as build_module
from edu_affect_data.build import StageSpec, run_build
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import ANNOTATIONS_SCHEMA, SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import write_sessions
from edu_affect_data.core.parquet import save_table
from edu_affect_data.core.progress import log_console
from edu_affect_data.core.rerun import Reason
from edu_affect_data.dry_run import BuildPlan, plan_build
from edu_affect_data.stages.annotation_queue import annotator_queue
from tests.test_build import _runs, fake_stages  # noqa: F401  (fake_stages: the fixture)

CONTROL = ("\x1b", "\r")


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every entry under `folder` (hidden ones included) with its content digest and mtime."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(folder))] = (digest, stat.st_mtime_ns)
    return found


def verdicts(plan: BuildPlan) -> dict[str, str]:
    return {p.spec.name: p.verdict for p in plan.stages}


def reasons_of(plan: BuildPlan, stage: str) -> list[Reason]:
    return list(next(p for p in plan.stages if p.spec.name == stage).reasons)


def cli_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stages) -> tuple[CliRunner, Path, Path]:  # type: ignore[no-untyped-def]
    """`edu-data build` on `stages`: its runner, a pipeline file and the build folder (not made yet)."""
    monkeypatch.setattr(build_module, "STAGES", stages)
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    return CliRunner(), config_file, tmp_path / "out"


def build_logged(config, out: Path, stages) -> tuple[tuple[str, ...], str]:  # type: ignore[no-untyped-def]
    log = StringIO()
    result = run_build(config, out, stages=stages, console=log_console(log))
    return result.ran, log.getvalue()


def test_nothing_to_do(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    out = tmp_path / "out"
    config = load_config(None)
    run_build(config, out, stages=fake_stages, console=log_console(StringIO()))
    plan = plan_build(config, out, stages=fake_stages)
    assert verdicts(plan) == {"alpha": "skipped", "beta": "skipped", "gamma": "skipped"}
    assert all(not p.reasons for p in plan.stages)
    assert plan.lines()[-1] == "dry run: 0 of 3 stage(s) would or may run; nothing was written"
    ran, log = build_logged(config, out, fake_stages)
    assert ran == () and "running" not in log


def test_config_key_changed_names_the_key_old_and_new(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    out = tmp_path / "out"
    run_build(load_config(None), out, stages=fake_stages, console=log_console(StringIO()))
    _runs(out)
    changed = load_config(None, {"seed": 7, "split.ratios.train": 0.6, "split.ratios.validation": 0.2})
    plan = plan_build(changed, out, stages=fake_stages)
    assert verdicts(plan) == {"alpha": "skipped", "beta": "runs", "gamma": "runs"}
    assert reasons_of(plan, "beta") == [Reason("config", "seed: 0 -> 7")]
    gamma = [str(r) for r in reasons_of(plan, "gamma")]
    assert gamma == ["config: split.ratios.train: 0.7 -> 0.6", "config: split.ratios.validation: 0.1 -> 0.2"]
    ran, log = build_logged(changed, out, fake_stages)
    assert ran == ("beta", "gamma") and _runs(out) == ["beta", "gamma"]
    assert "beta running because config: seed: 0 -> 7" in log
    # The real build also knows beta's outputs changed: gamma's line says so beside its own keys.
    gamma_line = next(line for line in log.splitlines() if "gamma running" in line)
    assert "config: split.ratios.train: 0.7 -> 0.6" in gamma_line and "upstream: the outputs of beta changed" in gamma_line


def test_a_stage_after_a_rerun_may_run(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    """Only beta's key changed: gamma reruns only if beta's output changes, which the plan says as such."""
    out = tmp_path / "out"
    run_build(load_config(None), out, stages=fake_stages, console=log_console(StringIO()))
    plan = plan_build(load_config(None, {"seed": 3}), out, stages=fake_stages)
    assert verdicts(plan) == {"alpha": "skipped", "beta": "runs", "gamma": "may run"}
    assert [r.code for r in reasons_of(plan, "gamma")] == ["upstream-reruns"]


def test_input_changed_names_the_corpus_folder(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    corpus = tmp_path / "IEMOCAP_full_release"
    corpus.mkdir()
    (corpus / "a.wav").write_bytes(b"RIFF")
    module = fake_stages[0].target.split(":")[0]
    stages = (StageSpec("alpha", f"{module}:alpha", ("name",), reads_corpora=True), *fake_stages[1:])
    config = load_config(None, {"corpora.iemocap": str(corpus)})
    out = tmp_path / "out"
    run_build(config, out, stages=stages, console=log_console(StringIO()))
    _runs(out)
    (corpus / "b.wav").write_bytes(b"RIFF")
    plan = plan_build(config, out, stages=stages)
    assert verdicts(plan) == {"alpha": "runs", "beta": "may run", "gamma": "may run"}
    (reason,) = reasons_of(plan, "alpha")
    assert reason.code == "input" and reason.detail.startswith("corpora.iemocap.root: its fingerprint changed")
    ran, log = build_logged(config, out, stages)
    assert ran == ("alpha",)  # its output is byte-identical: beta and gamma are spared, as "may run" said
    assert f"alpha running because {reason}" in log


def test_a_tampered_output_is_named_and_the_dry_run_leaves_it(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    out = tmp_path / "out"
    config = load_config(None)
    run_build(config, out, stages=fake_stages, console=log_console(StringIO()))
    _runs(out)
    (out / "beta.txt").write_text("edited by hand")
    plan = plan_build(config, out, stages=fake_stages)
    assert verdicts(plan) == {"alpha": "skipped", "beta": "runs", "gamma": "may run"}
    (reason,) = reasons_of(plan, "beta")
    assert reason.code == "output" and reason.detail.startswith("beta.txt: size 14 bytes, the stage wrote")
    assert (out / "beta.txt").read_text() == "edited by hand"  # the build deletes it; the dry run does not
    (out / "gamma.txt").unlink()
    assert reasons_of(plan_build(config, out, stages=fake_stages), "gamma") == [Reason("output", "gamma.txt: missing")]
    ran, log = build_logged(config, out, fake_stages)
    assert ran == ("beta", "gamma") and f"beta running because {reason}" in log


def test_the_dry_run_writes_nothing(tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    runner, config_file, out = cli_build(tmp_path, monkeypatch, fake_stages)
    fresh = runner.invoke(app, ["build", str(config_file), "--out", str(out), "--dry-run"])
    assert fresh.exit_code == 0, fresh.output
    assert not out.exists()  # not even the folder
    assert "alpha runs: first-run: no record of this stage in build_state.json" in fresh.output
    assert runner.invoke(app, ["build", str(config_file), "--out", str(out)]).exit_code == 0
    (out / "gamma.txt").write_text("tampered")
    before = snapshot(out)
    for argv in (["--set", "seed=9"], ["--force", "alpha"], ["--verify"], []):
        result = runner.invoke(app, ["build", str(config_file), "--out", str(out), "--dry-run", *argv])
        assert result.exit_code == 0, result.output
        assert snapshot(out) == before, argv
    assert "beta runs: config: seed: 0 -> 9" in runner.invoke(
        app, ["build", str(config_file), "--out", str(out), "--dry-run", "--set", "seed=9"]
    ).output


def test_sessions_going_to_annotators_under_a_new_gap_threshold(tmp_path: Path) -> None:
    """The manifest's recorded gaps, judged again by the gap filter's rule, say who goes to people."""
    paths = BuildPaths(tmp_path / "out")
    rows = [
        {"session_id": "voted", "status": "kept", "duration_s": 20.0, "gap_audio_s": 0.5},
        {"session_id": "kept-no-votes", "status": "kept", "duration_s": 20.0, "gap_video_s": 1.0},
        {"session_id": "gap-2.5", "status": "gap", "duration_s": 20.0, "gap_audio_s": 2.5, "gap_text_s": 0.3},
        {"session_id": "gap-5", "status": "gap", "duration_s": 20.0, "gap_video_s": 5.0},
        {"session_id": "error", "status": "error", "duration_s": 20.0},
        {"session_id": "gap-then-short", "status": "gap", "duration_s": 3.0, "gap_text_s": 2.5},
    ]
    write_sessions(pa.Table.from_pylist(rows, schema=SESSIONS_SCHEMA), paths, {})
    save_table(pa.Table.from_pylist([{"session_id": "voted", "annotator": "a1", "label": "Bored"}], schema=ANNOTATIONS_SCHEMA),
               paths.annotations)  # fmt: skip
    assert annotator_queue(paths).sessions == ("kept-no-votes",)
    queue = annotator_queue(paths, threshold_s=3.0, min_s=5.0)
    assert queue.sessions == ("gap-2.5", "kept-no-votes")
    assert "(1 of them newly kept)" in queue.how


def test_the_plan_lists_the_sessions_a_threshold_change_sends_to_people(tmp_path: Path, fake_stages) -> None:  # noqa: F811
    module = fake_stages[0].target.split(":")[0]
    stages = (
        StageSpec("ingest", f"{module}:alpha", ("name", "gaps", "sessions")),
        StageSpec("annotate", f"{module}:beta", ("seed",), ("ingest",)),
    )
    out = tmp_path / "out"
    run_build(load_config(None), out, stages=stages, console=log_console(StringIO()))
    rows = [{"session_id": f"s{i}", "status": "gap", "duration_s": 20.0, "gap_audio_s": 2.0 + i} for i in (0.5, 1.5, 3.0)]
    write_sessions(pa.Table.from_pylist(rows, schema=SESSIONS_SCHEMA), BuildPaths(out), {})
    plan = plan_build(load_config(None, {"gaps.threshold_s": 4.0}), out, stages=stages)
    assert reasons_of(plan, "ingest") == [Reason("config", "gaps.threshold_s: 2.0 -> 4.0")]
    assert plan.annotators is not None and plan.annotators.sessions == ("s0.5", "s1.5")
    assert any(line.startswith("annotators: 2 session(s) would go to annotators") for line in plan.lines())
    other = plan_build(load_config(None, {"sessions.min_s": 4.0}), out, stages=stages)
    assert other.annotators is None and "known only after it" in other.annotators_unknown


def test_the_log_is_plain_lines_when_not_a_terminal(tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """No colour codes, no carriage returns, and a long "running because" line kept on one line."""
    runner, config_file, out = cli_build(tmp_path, monkeypatch, fake_stages)
    assert runner.invoke(app, ["build", str(config_file), "--out", str(out)]).exit_code == 0
    long_name = "a-name-long-enough-to-pass-eighty-columns-" * 3
    result = runner.invoke(app, ["build", str(config_file), "--out", str(out), "--set", f"name={long_name}"])
    assert result.exit_code == 0, result.output
    assert not any(code in result.output for code in CONTROL), repr(result.output)
    line = next(line for line in result.output.splitlines() if "alpha running" in line)
    assert line.endswith(f'config: name: "demo" -> "{long_name}"') and len(line) > 120


def test_reasons_when_the_record_knows_less_than_today() -> None:
    """A key the stage reads now but did not then, and a record from before summaries were kept."""
    from edu_affect_data.core.rerun import input_changes

    old = {"version": "1", "config": {"seed": 0}, "config_digest": {"seed": "d0"}, "corpora": {}, "upstream": {}}
    new = {**old, "config": {"seed": 0, "annotation.gold": None}, "config_digest": {"seed": "d0", "annotation.gold": "dg"}}
    assert input_changes(old, new) == [Reason("config", "annotation.gold: now read by this stage (null)")]
    assert input_changes(new, old) == [Reason("config", "annotation.gold: no longer read by this stage")]
    assert [r.code for r in input_changes(None, new)] == ["inputs"]
    assert input_changes(old, {**old, "version": "2"}) == [Reason("version", "package version 1 -> 2")]


def test_a_one_stage_command_has_the_same_dry_run(tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """`edu-data split --dry-run` is `build --from split --until split --dry-run`."""
    module = fake_stages[0].target.split(":")[0]
    runner, config_file, out = cli_build(tmp_path, monkeypatch, (StageSpec("split", f"{module}:alpha", ("name",)),))
    first = runner.invoke(app, ["split", str(config_file), "--out", str(out), "--dry-run"])
    assert first.exit_code == 0 and "split runs: first-run" in first.output and not out.exists(), first.output
    assert runner.invoke(app, ["split", str(config_file), "--out", str(out)]).exit_code == 0
    changed = runner.invoke(app, ["split", str(config_file), "--out", str(out), "--set", "name=other", "--dry-run", "--force"])
    assert changed.exit_code == 0, changed.output
    assert 'split runs: forced: --force split; config: name: "demo" -> "other"' in changed.output
    assert (out / "alpha.txt").read_text() == "demo"
