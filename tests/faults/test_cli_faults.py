"""Fault matrix of the CLI's one error path: a user error is one line naming the path, exit 2; a stage
that fails on good input is one line naming what failed, exit 1; a traceback only with `--debug`.

The ingest cases run `edu-data build PIPELINE --until ingest` on the `tiny` synthetic corpora (or
an empty or swapped folder); they stop before any recording is read. `FAULT_KINDS` counts the
kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import edu_affect_data.build as build_module
from edu_affect_data.build import StageSpec
from edu_affect_data.cli import app
from tests.faults.test_agreement_faults import one_error_line

PIPELINE = "corpora:\n  iemocap: {root: null}\n  mosei: {root: null, speaker_map: null}\n"


def _empty(tmp: Path, corpora: Path) -> list[str]:
    (tmp / "empty").mkdir()
    return ["--iemocap", str(tmp / "empty")]


def _speaker_map(text: bytes | None) -> Callable[[Path, Path], list[str]]:
    def flags(tmp: Path, corpora: Path) -> list[str]:
        path = tmp / "speakers.csv"
        if text is not None:
            path.write_bytes(text)
        return ["--mosei", str(corpora / "CMU_MOSEI"), "--set", f"corpora.mosei.speaker_map={path}"]

    return flags


#: name -> (extra flags from (tmp_path, corpora), the path the line names, words it must hold).
USER_ERRORS: dict[str, tuple[Callable[[Path, Path], list[str]], Callable[[Path, Path], Path], tuple[str, ...]]] = {
    "empty IEMOCAP folder": (_empty, lambda t, c: t / "empty", ("not an IEMOCAP_full_release folder",)),
    "empty MOSEI folder": (
        lambda t, c: ["--mosei", str(_empty(t, c)[1])],
        lambda t, c: t / "empty",
        ("not a CMU-MOSEI folder",),
    ),
    "--iemocap given MOSEI": (
        lambda t, c: ["--iemocap", str(c / "CMU_MOSEI")],
        lambda t, c: c / "CMU_MOSEI",
        ("not an IEMOCAP_full_release folder",),
    ),
    "--mosei given IEMOCAP": (
        lambda t, c: ["--mosei", str(c / "IEMOCAP_full_release")],
        lambda t, c: c / "IEMOCAP_full_release",
        ("not a CMU-MOSEI folder",),
    ),
    "corpus folder missing": (lambda t, c: ["--iemocap", str(t / "nowhere")], lambda t, c: t / "nowhere", ("not a folder",)),
    "corpus folder is a file": (
        lambda t, c: ["--iemocap", str(c / "synth_truth.json")],
        lambda t, c: c / "synth_truth.json",
        ("not a folder",),
    ),
    "speaker map missing": (_speaker_map(None), lambda t, c: t / "speakers.csv", ("cannot read speaker map",)),
    "speaker map bad row": (_speaker_map(b"video_id,speaker_id\nv1\n"), lambda t, c: t / "speakers.csv", (":2: want 'video_id,speaker_id'",)),
    "speaker map contradicts itself": (
        _speaker_map(b"v1,alice\nv1,bob\n"),
        lambda t, c: t / "speakers.csv",
        (":2: video v1 mapped to 'bob'",),
    ),
    "speaker map not UTF-8": (_speaker_map(b"v1,al\xffce\n"), lambda t, c: t / "speakers.csv", ("not UTF-8",)),
    "--out is a file": (
        lambda t, c: ["--out", str(c / "synth_truth.json"), "--iemocap", str(c / "IEMOCAP_full_release")],
        lambda t, c: c / "synth_truth.json",
        ("--out must be a folder",),
    ),
    "malformed --corpus": (lambda t, c: ["--corpus", "mosei"], lambda t, c: Path("mosei"), ("expected NAME=PATH",)),
    "unknown stage": (lambda t, c: ["--until", "ingset"], lambda t, c: Path("ingset"), ("unknown stage",)),
}
FAULT_KINDS = len(USER_ERRORS) + 3  # + a killed pool worker, a stage's own failure (exit 1), SIGTERM (143)


@pytest.mark.parametrize("fault", sorted(USER_ERRORS))
def test_a_user_error_is_one_line_naming_the_path(fault: str, tmp_path: Path, tiny_corpora: Path) -> None:
    flags, named, words = USER_ERRORS[fault]
    config = tmp_path / "pipeline.yaml"
    config.write_text(PIPELINE)
    argv = ["build", str(config), "--until", "ingest", *flags(tmp_path, tiny_corpora)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(named(tmp_path, tiny_corpora)) in line, line
    for word in words:
        assert word in line, (word, line)
    assert "--debug" not in line  # a user error needs no traceback to be understood


def test_debug_prints_the_traceback_and_keeps_the_status(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text(PIPELINE)
    argv = ["build", str(config), "--until", "ingest", "--iemocap", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, ["--debug", *argv])
    assert result.exit_code == 2, result.output
    assert "Traceback (most recent call last)" in result.output and "CorpusLayoutError" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {tmp_path / 'empty'}: "), errors


FAILING_STAGES = '''
import os
import signal
import time

from edu_affect_data.core.parallel import parallel_map
from edu_affect_data.core.stage import StageOutcome


def fine(config, paths, *, executor=None):
    return StageOutcome(True, "fine", ())


def terminated(config, paths, *, executor=None):
    """`kill PID` arrives while the stage works."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)


def killed(config, paths, *, executor=None):
    """One pool worker dies (as under kill -9 or the OOM killer) while it holds a recording."""
    list(parallel_map(os._exit, [9], workers=1, describe=lambda code: "recording Ses01F_impro01"))


def broken(config, paths, *, executor=None):
    raise RuntimeError("session Ses01F_impro01_F000: the feature part is shorter than the session")
'''


@pytest.fixture()
def failing_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the build's stages with one stage running `FAILING_STAGES.<name>`."""
    module = f"failing_stages_{os.getpid()}_{tmp_path.name}"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / f"{module}.py").write_text(textwrap.dedent(FAILING_STAGES))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.delitem(sys.modules, module, raising=False)

    def use(*names: str) -> None:
        stages = [StageSpec("only" if len(names) == 1 else name, f"{module}:{name}", ("name",)) for name in names]
        monkeypatch.setattr(build_module, "STAGES", tuple(stages))

    return use


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        ("killed", ("recording Ses01F_impro01", "a worker process died")),
        ("broken", ("session Ses01F_impro01_F000", "shorter than the session")),
    ],
)
def test_a_failed_stage_is_one_line_naming_what_failed(
    stage: str, words: tuple[str, ...], failing_stage: Callable[..., None], tmp_path: Path
) -> None:
    failing_stage(stage)
    config = tmp_path / "pipeline.yaml"
    config.write_text("name: faults\n")
    result = CliRunner().invoke(app, ["build", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    for word in words:
        assert word in line, (word, line)
    assert line.endswith("(rerun with --debug for the traceback)")


def test_sigterm_stops_the_build_with_one_line_naming_the_stage(failing_stage: Callable[..., None], tmp_path: Path) -> None:
    failing_stage("fine", "terminated")
    config = tmp_path / "pipeline.yaml"
    config.write_text("name: faults\n")
    result = CliRunner().invoke(app, ["build", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 143, result.output
    assert result.output.splitlines()[-1] == "stopped by SIGTERM in stage terminated (fine done); rerun the same command to resume"
    assert "Traceback" not in result.output
    assert (tmp_path / "out" / ".build.lock").read_text() == ""  # released: the rerun is not locked out


def test_every_named_user_error_exists() -> None:
    """`cli.errors.USER_ERRORS` names exception classes; a rename must not silently make them exit 1."""
    import importlib

    from edu_affect_data.cli.errors import USER_ERRORS

    for name in USER_ERRORS:
        module, _, cls = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), cls), type), name
