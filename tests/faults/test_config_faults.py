"""Fault matrix of the pipeline configuration: every bad file or `--set` is one line naming it, exit 2.

Each case runs `edu-data build CONFIG --until ingest` (and one `edu-data validate`-free stage
command) through the CLI; nothing is built, and the build folder is left without a state file.
`FAULT_KINDS` counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app
from edu_affect_data.config import load_config, parse_overrides
from edu_affect_data.core.strict_config import load_yaml
from tests.faults.test_agreement_faults import one_error_line

TINY_TRAIN = Path(__file__).resolve().parents[2] / "model" / "configs" / "tiny_cpu.yaml"

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
    # issue 20, case 6: `true` ran as 1.0 s, `1` as True
    "boolean for a number in --set": ("name: x\n", ["gaps.threshold_s=true"], ("gaps.threshold_s", "True is a boolean, not a number")),
    "number for a boolean in --set": ("name: x\n", ["gaps.face_check=1"], ("gaps.face_check", "1 is a number, not a boolean")),
    "boolean for a number in the file": ("sessions:\n  min_s: yes\n", [], ("sessions.min_s", "is a boolean, not a number")),
    "boolean for a number in a registered option": (
        "features:\n  extractors:\n    frames: {fps: true}\n", [], ("fps", "True is a boolean, not a number"),
    ),
    # issue 20, case 7: the last `sessions:` silently won
    "repeated key": (
        "sessions:\n  min_s: 8\ngaps:\n  threshold_s: 2\nsessions:\n  min_s: 9\n", [],
        ("key 'sessions' is written twice in one mapping (lines 1 and 5)",),
    ),
    "repeated nested key": ("gaps:\n  threshold_s: 2\n  threshold_s: 3\n", [], ("key 'threshold_s'", "lines 2 and 3")),
}
FAULT_KINDS = len(FAULTS) + 4  # + a folder as the config file, a training config's kinds and repeated keys, --out in a corpus


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


def test_an_integer_for_a_float_and_a_merge_override_are_still_fine(tmp_path: Path) -> None:
    loaded = load_config(None, parse_overrides(["gaps.threshold_s=2", "gaps.face_check=false", "sessions.min_s=9"]))
    assert (loaded.gaps.threshold_s, loaded.gaps.face_check, loaded.sessions.min_s) == (2.0, False, 9.0)
    assert load_yaml("d: &d {x: 1, y: 2}\ne:\n  <<: *d\n  x: 3\n") == {"d": {"x": 1, "y": 2}, "e": {"x": 3, "y": 2}}


@pytest.mark.parametrize(
    ("text", "sets", "words"),
    [
        ("name: x\n", ["train.epochs=true"], "train.epochs: Value error, True is a boolean, not a number"),
        ("name: x\ntrain:\n  epochs: 2\n  epochs: 3\n", [], "key 'epochs' is written twice in one mapping (lines 4 and 5)"),
    ],
)
def test_a_training_config_is_held_to_the_same_rules(text: str, sets: list[str], words: str, tmp_path: Path) -> None:
    from edu_emotionnet.config import TrainConfigError, load_train_config
    from edu_emotionnet.config import parse_overrides as train_overrides

    config = tmp_path / "train.yaml"
    config.write_text(f"base: {TINY_TRAIN}\n{text}")
    with pytest.raises(TrainConfigError) as caught:
        load_train_config(config, train_overrides(sets))
    assert words in str(caught.value)


@pytest.mark.parametrize("inside", [".", "build", "a/b/out"])
def test_out_inside_a_corpus_folder_is_refused_before_anything_runs(inside: str, tmp_path: Path) -> None:
    corpus = tmp_path / "IEMOCAP_full_release"
    corpus.mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text("name: x\n")
    out = corpus / inside
    result = CliRunner().invoke(app, ["build", str(config), "--iemocap", str(corpus), "--out", str(out)])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert f"--out {out} is inside corpora.iemocap.root {corpus}" in line
    assert list(corpus.iterdir()) == []  # nothing written into the corpus
