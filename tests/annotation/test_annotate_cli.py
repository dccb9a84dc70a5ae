"""`edu-data annotate push|pull|status|adjudicate` as a user types them."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from edu_affect_data.cli import app

pytestmark = pytest.mark.labelstudio


def test_push_status_pull_adjudicate_commands(build, tmp_path, ls_settings) -> None:
    config, paths = build
    people = config.annotation.model_copy(update={"simulate": None})
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(config.model_copy(update={"annotation": people}).model_dump(mode="json")))
    runner = CliRunner()
    args = [str(pipeline), "--out", str(paths.out)]

    pushed = runner.invoke(app, ["annotate", "push", *args])
    assert pushed.exit_code == 0, pushed.output
    assert "5 tasks added, 0 already there" in pushed.output and ls_settings.url in pushed.output

    status = runner.invoke(app, ["annotate", "status", *args])
    assert status.exit_code == 3, status.output
    assert "0 / 5" in status.output

    pulled = runner.invoke(app, ["annotate", "pull", *args])
    assert pulled.exit_code == 0, pulled.output
    assert "0 valid annotations" in pulled.output and paths.annotations.exists()

    waiting = runner.invoke(app, ["annotate", "adjudicate", *args])
    assert waiting.exit_code == 3 and "waiting for annotations: 0/5" in waiting.output

    too_long = runner.invoke(app, ["annotate", "push", *args, "--set", "annotation.project_title=" + "x" * 40])
    assert too_long.exit_code == 2 and "too long" in too_long.output
    assert ls_settings.api_key not in pushed.output + status.output + pulled.output + too_long.output
