"""The build driver: skip unchanged stages, --force/--until/--from, resume after a waiting stage."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import edu_affect_data.build as build_module
import edu_affect_data.stages.ingest as manifest_module
from edu_affect_data.build import EXIT_WAITING, STAGES, StageSpec, run_build
from edu_affect_data.build_errors import BuildError
from edu_affect_data.build_state import load_state
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.corpora.records import Recording
from tests.ingest_media import alternating_units, manifest_of, write_avi, write_wav

FAKE_STAGES = '''
from pathlib import Path
from edu_affect_data.core.stage import StageOutcome


def _run(name, text, paths):
    with (paths.out / "runs.log").open("a") as fh:
        fh.write(name + "\\n")
    out = paths.out / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return StageOutcome(True, f"{name} wrote {text!r}", (out,))


def alpha(config, paths, *, executor=None):
    return _run("alpha", config.name, paths)


def beta(config, paths, *, executor=None):
    return _run("beta", (paths.out / "alpha.txt").read_text() + f"+{config.seed}", paths)


def gamma(config, paths, *, executor=None):
    return _run("gamma", (paths.out / "beta.txt").read_text() + f"+{config.split.ratios.train}", paths)


def waiter(config, paths, *, executor=None):
    with (paths.out / "runs.log").open("a") as fh:
        fh.write("waiter\\n")
    done = (paths.out / "labels-done").exists()
    return StageOutcome(done, "done" if done else "waiting for annotations: 1/3 sessions complete", (paths.out / "runs.log",))
'''


@pytest.fixture()
def fake_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[StageSpec, ...]:
    module = f"fake_stages_{os.getpid()}_{tmp_path.name}"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / f"{module}.py").write_text(textwrap.dedent(FAKE_STAGES))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return (
        StageSpec("alpha", f"{module}:alpha", ("name",)),
        StageSpec("beta", f"{module}:beta", ("seed",), ("alpha",)),
        StageSpec("gamma", f"{module}:gamma", ("split",), ("beta",)),
    )


def _runs(out: Path) -> list[str]:
    log = out / "runs.log"
    runs = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return runs


QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - one sink for the whole module


def test_skips_unchanged_and_reruns_what_a_change_reaches(tmp_path: Path, fake_stages) -> None:
    out = tmp_path / "out"
    config = load_config(None)
    first = run_build(config, out, stages=fake_stages, executor=None, console=QUIET)
    assert first.complete and first.ran == ("alpha", "beta", "gamma")
    assert _runs(out) == ["alpha", "beta", "gamma"]
    again = run_build(config, out, stages=fake_stages, console=QUIET)
    assert again.ran == () and again.skipped == ("alpha", "beta", "gamma")
    assert _runs(out) == []
    # A config key of beta changes: beta reruns, and gamma because beta's output changed.
    reseeded = load_config(None, {"seed": 7})
    assert run_build(reseeded, out, stages=fake_stages, console=QUIET).ran == ("beta", "gamma")
    assert (out / "gamma.txt").read_text() == "edu-affect+7+0.7"
    # A deleted output makes its stage run again.
    (out / "gamma.txt").unlink()
    assert run_build(reseeded, out, stages=fake_stages, console=QUIET).ran == ("gamma",)
    state = load_state(out / "build_state.json")
    assert state["stages"]["gamma"]["outputs"] == ["gamma.txt"] and state["stages"]["gamma"]["complete"]


def test_force_until_and_from(tmp_path: Path, fake_stages) -> None:
    out = tmp_path / "out"
    config = load_config(None)
    assert run_build(config, out, stages=fake_stages, until="beta", console=QUIET).ran == ("alpha", "beta")
    assert "gamma" not in load_state(out / "build_state.json")["stages"]
    with pytest.raises(BuildError, match="needs the outputs of beta"):
        run_build(config, tmp_path / "fresh", stages=fake_stages, start_from="gamma", console=QUIET)
    assert run_build(config, out, stages=fake_stages, start_from="gamma", console=QUIET).ran == ("gamma",)
    _runs(out)
    forced = run_build(config, out, stages=fake_stages, force="beta", console=QUIET)
    assert forced.ran == ("beta", "gamma") and forced.skipped == ("alpha",)
    with pytest.raises(BuildError, match="unknown stage"):
        run_build(config, out, stages=fake_stages, until="publish", console=QUIET)
    with pytest.raises(BuildError, match="cannot import no_such_module"):
        run_build(config, out, stages=(StageSpec("x", "no_such_module:run", ()),), console=QUIET)
    with pytest.raises(BuildError, match="comes after"):
        run_build(config, out, stages=fake_stages, start_from="gamma", until="alpha", console=QUIET)


def test_waiting_stage_stops_with_exit_3_and_resumes(tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_stages[0].target.split(":")[0]
    stages = (fake_stages[0], StageSpec("annotate", f"{module}:waiter", ("annotation",), ("alpha",)), fake_stages[1])
    monkeypatch.setattr(build_module, "STAGES", stages)
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(config_file), "--out", str(out)])
    assert result.exit_code == EXIT_WAITING, result.output
    assert "waiting for annotations: 1/3 sessions complete" in result.output
    assert _runs(out) == ["alpha", "waiter"]
    # Nothing changed, but a waiting stage is never skipped: the rerun asks again.
    assert runner.invoke(app, ["build", str(config_file), "--out", str(out)]).exit_code == EXIT_WAITING
    assert _runs(out) == ["waiter"]
    (out / "labels-done").touch()
    result = runner.invoke(app, ["build", str(config_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _runs(out) == ["waiter", "beta"]


def test_cli_flags_override_and_bad_config_exits_2(tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "STAGES", fake_stages)
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\nseed: 1\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", str(config_file), "--out", str(out), "--set", "seed=5", "--set", "name=cli"])
    assert result.exit_code == 0, result.output
    assert (out / "beta.txt").read_text() == "cli+5"
    result = CliRunner().invoke(app, ["build", str(config_file), "--out", str(out), "--set", "sessions.min_sec=3"])
    assert result.exit_code == 2
    assert "sessions.min_sec" in result.output


def test_ingest_reruns_on_corpus_change_and_spares_unchanged_downstream(
    tmp_path: Path, fake_stages, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus_dir = tmp_path / "IEMOCAP_full_release"
    rid = "Ses01F_impro01"
    wav = write_wav(corpus_dir / f"{rid}.wav", 30.0)
    avi = write_avi(corpus_dir / f"{rid}.avi", 30.0)
    units = alternating_units("iemocap", rid, 30.0)
    manifest = manifest_of("iemocap", corpus_dir, [(Recording("iemocap", rid, wav, avi, "side_by_side"), units)])
    monkeypatch.setattr(manifest_module, "read_corpora", lambda corpora, executor=None: [manifest])
    config = load_config(None, {"corpora.iemocap": str(corpus_dir), "sessions.min_s": 8, "sessions.target_s": 12, "sessions.max_s": 16})
    module = fake_stages[0].target.split(":")[0]
    assert STAGES[0].name == "ingest"
    stages = (STAGES[0], StageSpec("alpha", f"{module}:alpha", ("name",), ("ingest",)))
    out = tmp_path / "out"
    assert run_build(config, out, stages=stages, console=QUIET).ran == ("ingest", "alpha")
    assert run_build(config, out, stages=stages, console=QUIET).skipped == ("ingest", "alpha")
    # A touched corpus file reruns ingest; its outputs come out byte-identical, so alpha is spared.
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 10**9))
    again = run_build(config, out, stages=stages, console=QUIET)
    assert again.ran == ("ingest",) and again.skipped == ("alpha",)


def test_cli_reports_a_missing_corpus_folder_with_exit_2(tmp_path: Path) -> None:
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    result = CliRunner().invoke(
        app, ["build", str(config_file), "--out", str(tmp_path / "out"), "--iemocap", str(tmp_path / "nowhere"), "--until", "ingest"]
    )
    assert result.exit_code == 2
    assert "corpora.iemocap" in result.output and "is not a folder" in result.output


def test_lock_from_another_host_is_refused_and_a_finished_build_releases_it(tmp_path: Path, fake_stages) -> None:
    from edu_affect_data.build_errors import BuildLocked
    from edu_affect_data.core.lock import LOCK_NAME

    config = load_config(None, {})
    out = tmp_path / "out"
    assert run_build(config, out, stages=fake_stages, console=QUIET).ran == ("alpha", "beta", "gamma")
    assert (out / LOCK_NAME).read_text() == ""  # released: empty, nobody to name
    (out / LOCK_NAME).write_text('{"host": "other-node", "pid": 4242, "started_at": "2026-01-01T00:00:00+00:00"}\n')
    with pytest.raises(BuildLocked, match="lock from another host: pid 4242 on host other-node"):
        run_build(config, out, stages=fake_stages, console=QUIET)
    (out / LOCK_NAME).write_text("")
    assert run_build(config, out, stages=fake_stages, console=QUIET).skipped == ("alpha", "beta", "gamma")


def test_a_touched_output_is_kept_and_a_changed_one_reruns_its_stage(tmp_path: Path, fake_stages) -> None:
    """Reuse follows content: a new mtime costs one digest (and is recorded), new bytes rerun the stage."""
    out = tmp_path / "out"
    config = load_config(None)
    run_build(config, out, stages=fake_stages, console=QUIET)
    _runs(out)
    beta = out / "beta.txt"
    os.utime(beta, ns=(beta.stat().st_atime_ns, beta.stat().st_mtime_ns + 10**9))
    assert run_build(config, out, stages=fake_stages, console=QUIET).ran == ()
    assert load_state(out / "build_state.json")["stages"]["beta"]["files"]["beta.txt"]["mtime_ns"] == beta.stat().st_mtime_ns
    # Same size, same mtime, same inode, other bytes: only --verify reads it.
    stat = beta.stat()
    with beta.open("r+b") as handle:
        handle.write(b"X")
    os.utime(beta, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_build(config, out, stages=fake_stages, console=QUIET).ran == ()
    verified = run_build(config, out, stages=fake_stages, verify=True, console=QUIET)
    assert verified.ran == ("beta",) and verified.skipped == ("alpha", "gamma")  # beta's output is byte-identical again
    assert beta.read_text() == "edu-affect+0"


def test_the_build_records_its_whole_config_and_which_corpora_are_synthetic(
    tmp_path: Path, fake_stages, tiny_corpora: Path
) -> None:
    """`build_config.json`: the resolved configuration with public paths, and per corpus whether it is
    synthetic (a `synth_truth.json` beside it); not an input of any stage, so no stage reruns on it."""
    import json

    recorded = tmp_path / "recorded" / "CMU_MOSEI"
    recorded.mkdir(parents=True)
    config = load_config(None, {"corpora.iemocap": str(tiny_corpora / "IEMOCAP_full_release"), "corpora.mosei": str(recorded),
                                "features.workers": 1})
    out = tmp_path / "out"
    run_build(config, out, stages=fake_stages, console=QUIET)
    written = json.loads((out / "build_config.json").read_text())
    assert written["corpora"] == {"iemocap": {"synthetic": True}, "mosei": {"synthetic": False}}
    assert written["config"]["corpora"]["iemocap"]["root"] == "<IEMOCAP_full_release>"  # no path of this machine
    assert written["config"]["features"]["workers"] == 1 and written["config"]["split"]["stratify_by"] == ["label", "corpus"]
    assert str(tmp_path) not in (out / "build_config.json").read_text()
    changed = load_config(None, {"corpora.iemocap": str(tiny_corpora / "IEMOCAP_full_release"), "corpora.mosei": str(recorded),
                                 "features.workers": 2})
    again = run_build(changed, out, stages=fake_stages, console=QUIET)
    assert again.skipped == ("alpha", "beta", "gamma")  # a key no stage reads reruns nothing...
    assert json.loads((out / "build_config.json").read_text())["config"]["features"]["workers"] == 2  # ...and is recorded
