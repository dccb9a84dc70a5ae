"""Fault matrix of the pipeline configuration: every bad file or `--set` is one line naming it, exit 2.

Each case runs `edu-data build CONFIG --until ingest` (and one `edu-data validate`-free stage
command) through the CLI; nothing is built, and the build folder is left without a state file.
`FAULT_KINDS` counts the kinds covered here (the README's "Faults tried" table reads it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.faults.test_agreement_faults import one_error_line

#: name -> (config text or None for no file, --set values, words the one-line error must hold).
FAULTS: dict[str, tuple[str | None, list[str], tuple[str, ...]]] = {
    "empty file": ("", [], ("the file is empty",)),
    "comments only": ("# nothing here\n", [], ("the file is empty",)),
    "non-mapping": ("- a\n- b\n", [], ("top level must be a mapping", "list")),
    "bad YAML in the file": ("sessions: {min_s: [1\n", [], ("not valid YAML",)),
    "unknown key": ("sessions:\n  min_sec: 3\n", [], ("sessions.min_sec", "Extra inputs are not permitted")),
    "out-of-range value": ("gaps:\n  threshold_s: -1\n", [], ("gaps.threshold_s", "greater than 0")),
    "unknown corpus": ("corpora:\n  toyz: /data/toyz\n", [], ("corpora.toyz",)),
    "nan in --set": ("name: x\n", ["gaps.threshold_s=.nan"], (".nan is not a finite number",)),
    "inf in --set": ("name: x\n", ["sessions.max_s=.inf"], (".inf is not a finite number",)),
    "bad YAML in --set": ("name: x\n", ["sessions.min_s=[1"], ("the value is not valid YAML",)),
    "--set without =": ("name: x\n", ["sessions.min_s"], ("expected key=value",)),
    "--set unknown key": ("name: x\n", ["gaps.treshold_s=3"], ("gaps.treshold_s",)),
    "missing file": (None, [], ("cannot read",)),
}
FAULT_KINDS = len(FAULTS) + 1  # + a folder given as the config file


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_bad_configuration_is_one_line_naming_it(fault: str, tmp_path: Path) -> None:
    text, sets, words = FAULTS[fault]
    config = tmp_path / "pipeline.yaml"
    if text is not None:
        config.write_text(text)
    out = tmp_path / "out"
    argv = ["build", str(config), "--out", str(out), "--until", "ingest"]
    for value in sets:
        argv += ["--set", value]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert (str(config) in line) or any(value in line for value in sets), line
    for word in words:
        assert word in line, (word, line)
    assert not (out / "build_state.json").exists()


def test_a_folder_as_the_configuration_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["features", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(tmp_path) in line and "cannot read" in line


def test_debug_adds_the_traceback_and_keeps_the_status(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yaml"
    config.write_text("")
    result = CliRunner().invoke(app, ["--debug", "build", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output and "ConfigError" in result.output
