"""What a person reads: plain progress lines in a log file, the demo's headers, `annotate status` off a server.

The build log's own lines (no wraps, no control codes) are checked in tests/test_dry_run.py
beside the reasons they print.
"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app
from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import write_sessions
from edu_affect_data.core.progress import Progress, Tracked, track

REPO = Path(__file__).resolve().parents[1]
CONTROL = ("\x1b", "\r")


def test_progress_is_plain_lines_off_a_terminal() -> None:
    stream = StringIO()
    assert list(track(range(3), 3, "features: per session", "session", stream=stream, every_s=0.0)) == [0, 1, 2]
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("features: per session: 3/3 sessions (100%), ")
    assert not any(code in stream.getvalue() for code in CONTROL)
    quiet = StringIO()
    with Progress(5, "quick", "item", stream=quiet) as progress:  # ends before the first interval: no line
        progress.update(5)
    assert quiet.getvalue() == ""


def test_a_tracked_loop_shows_what_each_step_measured_and_disabled_it_is_the_items() -> None:
    """The trainer's epochs: each plain line carries the last step's figures; off (ranks > 0), nothing."""
    stream = StringIO()
    epochs = Tracked(range(2), 2, "train tiny", "epoch", stream=stream, every_s=0.0)
    for epoch in epochs:
        epochs.describe(f"loss {1.0 / (epoch + 1):.3f}")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("train tiny: 1/2 epochs (50%), ") and lines[0].endswith(", loss 1.000")
    assert lines[-1].startswith("train tiny: 2/2 epochs (100%), ") and lines[-1].endswith(", loss 0.500")
    silent = StringIO()
    off = Tracked(range(2), 2, "train tiny", "epoch", enabled=False, stream=silent, every_s=0.0)
    for _ in off:
        off.describe("loss 1.000")
    assert list(off) == [0, 1] and silent.getvalue() == ""


def test_annotate_status_without_a_server_is_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = BuildPaths(tmp_path / "out")
    write_sessions(pa.Table.from_pylist([{"session_id": "s1", "status": "kept"}], schema=SESSIONS_SCHEMA), paths, {})
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")  # discard port: nothing answers
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-a-key")
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["annotate", "status", str(config_file), "--out", str(paths.out)])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: annotate status needs the campaign's Label Studio server: ") and "127.0.0.1:9" in line
    assert os.environ["LABEL_STUDIO_API_KEY"] not in line


def test_a_stage_counts_its_work_in_the_log(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`map_all(progress=...)`, as annotate's clip cutting uses it: plain counted lines on stderr."""
    from edu_affect_data.core import progress
    from edu_affect_data.core.parallel import map_all

    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    assert map_all(abs, [-1, -2, -3], None, progress=("annotate: cutting clips", "clip")) == [1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"annotate: cutting clips: {n}/3 clips ({p}%)" for n, p in
                                                      ((1, 33), (2, 67), (3, 100))]


def test_library_progress_bars_are_off_in_a_log_file() -> None:
    """transformers' "Loading weights" bar (seen in a build log): off when stderr is a pipe, on a tty kept."""
    check = (
        "import os, transformers, datasets\n"
        "from edu_affect_data.core.progress import quiet_library_bars\n"
        "quiet_library_bars()\n"
        "from transformers.utils import logging as t\n"
        "from datasets.utils import logging as d\n"
        "print(t.is_progress_bar_enabled(), d.is_progress_bar_enabled(), os.environ['HF_HUB_DISABLE_PROGRESS_BARS'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("DISABLE_PROGRESS_BARS")}
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split() == ["False", "False", "1"], done.stderr


def test_the_demo_step_headers_are_plain_in_a_log_file() -> None:
    """scripts/demo.sh's own `step` lines, its output piped (as `make demo > demo.log`)."""
    script = (REPO / "scripts" / "demo.sh").read_text()
    start = script.index("start=$(date +%s)")
    header = script[start : script.index("\n", script.index("step() {")) + 1]
    done = subprocess.run(["bash", "-c", header + 'step "Build: ingest -> publish"'], capture_output=True, text=True, check=True)
    assert done.stdout.strip().startswith("== [") and done.stdout.strip().endswith("s] Build: ingest -> publish")
    assert not any(code in done.stdout for code in CONTROL), repr(done.stdout)
