"""`edu-data synth` parses, calls `synthesize` and prints a summary; bad input is a clear error."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app


def test_unknown_profile_exits_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--profile", "huge"])
    assert result.exit_code != 0
    assert "unknown profile" in result.output


@pytest.mark.slow
def test_overwrite_rewrites_and_prints_the_summary(tiny_corpora: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(tiny_corpora, out)
    (out / "IEMOCAP_full_release" / "stale.txt").write_text("from an older run")
    result = CliRunner().invoke(
        app, ["synth", str(out), "--profile", "tiny", "--seed", "0", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(
        r"\d+ recordings, \d+ units, \d+ faults, \d+ broken files in [\d.]+ s", result.output
    ), result.output
    assert not (out / "IEMOCAP_full_release" / "stale.txt").exists()
