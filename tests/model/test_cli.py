"""The model's commands join `edu-data` through the `edu_affect_data.commands` entry point, name their
own user errors on the app, and a broken command plugin fails naming itself."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from edu_emotionnet import cli as model_cli
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.media_input import MediaInputError
from typer.testing import CliRunner

from edu_affect_data.cli import COMMAND_PLUGINS, COMMANDS_GROUP, add_plugin_commands, app
from edu_affect_data.cli.errors import EXIT_USER_ERROR, Typer, exit_status
from edu_affect_data.core.registry import RegistryError

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"
MODEL_COMMANDS = ("train", "experiments", "evaluate", "report", "predict")


def test_the_model_package_declares_its_commands_as_an_entry_point() -> None:
    (point,) = [p for p in metadata.entry_points(group=COMMANDS_GROUP) if p.name == "model"]
    assert point.value == "edu_emotionnet.cli:register" and point.load() is model_cli.register
    assert COMMAND_PLUGINS.get("model") is model_cli.register


def test_edu_data_has_the_model_commands_with_their_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in MODEL_COMMANDS:
        assert f"│ {command} " in result.output, command
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0 and "--seeds" in result.output and "Continue from RUN/ckpt.pt" in result.output


def test_the_model_names_its_user_errors_on_the_app_not_the_data_package() -> None:
    error = MediaInputError("clip.mp4: no audio stream and no video duration")
    assert exit_status(error, app.user_errors) == EXIT_USER_ERROR
    assert exit_status(error) != EXIT_USER_ERROR  # the data package's own list names none of the model's
    assert "edu_emotionnet" in app.project_packages


def test_train_runs_and_a_bad_config_is_one_line_exit_2(make_config: Callable[..., TrainConfig], planted_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old.yaml"
    bad.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\nmodel: {{cmaa: false}}\n")
    result = CliRunner().invoke(app, ["train", str(bad), "--set", f"data={planted_dir}"])
    assert result.exit_code == 2, result.output
    assert "model.cmaa moved: write model.options.cmaa" in result.output and "Traceback" not in result.output
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(CONFIGS / "ablation_no_mie.yaml"), "--out", str(run), "--seeds", "0",
                                      "--set", f"data={planted_dir}", "--set", "train.epochs=1", "--set", "train.progress=false",
                                      "--set", "model.d_model=16", "--set", "model.layers=1", "--set", "model.heads=2",
                                      "--set", "train.num_workers=0", "--set", "eval.missing_rates=[0.0]"])
    assert result.exit_code == 0, result.output
    assert "no_mie seed 0: test accuracy" in result.output and (run / "seed0" / "results.json").is_file()


def test_a_broken_command_plugin_fails_naming_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(COMMAND_PLUGINS, "_builtins", {"ghost": "no_such_package.cli:register"})
    with pytest.raises(RegistryError, match=r"edu-data command plugin 'ghost': cannot load no_such_package\.cli:register"):
        add_plugin_commands(Typer())

    def failing(target: Typer) -> None:
        raise ValueError("needs a newer edu-data")

    monkeypatch.setattr(COMMAND_PLUGINS, "_builtins", {})
    monkeypatch.setattr(COMMAND_PLUGINS, "_registered", {"flaky": failing})
    with pytest.raises(RegistryError, match=r"edu-data command plugin 'flaky': its register\(app\) failed: needs a newer edu-data"):
        add_plugin_commands(Typer())
