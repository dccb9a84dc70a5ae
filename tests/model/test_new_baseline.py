"""A new baseline is one module, one registry line and one YAML file (docs/baselines.md, "Adding a
baseline"): `step_gru.py` and `step_gru.yaml` here, registered by this test, with an option of its
own, trained on the planted fixtures and found in the report's tables under its display name."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from edu_emotionnet import registry
from edu_emotionnet.config import TrainConfig, TrainConfigError
from edu_emotionnet.model import build_model
from edu_emotionnet.registry import model_names, register_model
from edu_emotionnet.report import write_report
from edu_emotionnet.train import train_seeds

from tests.helpers.model import planted_inputs
from tests.model.step_gru import STEP_GRU, StepGRU, StepGRUOptions

YAML = Path(__file__).with_name("step_gru.yaml")


@pytest.fixture()
def step_gru_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registry line, undone after the test."""
    monkeypatch.setattr(registry.MODELS, "_registered", dict(registry.MODELS._registered))
    register_model(STEP_GRU)


def test_unregistered_the_arch_is_an_error_listing_the_known_ones(make_config: Callable[..., TrainConfig]) -> None:
    assert "step_gru" not in model_names()
    with pytest.raises(TrainConfigError, match=r"model\.arch.*unknown model arch 'step_gru'"):
        make_config(str(YAML))


@pytest.mark.usefixtures("step_gru_registered")
def test_its_own_option_is_read_from_the_yaml_and_checked_by_its_model(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config(str(YAML))
    assert config.model.arch == "step_gru" and config.model.options == StepGRUOptions(hidden=20)
    model = build_model(config.model, planted_inputs())
    assert isinstance(model, StepGRU) and model.gru.hidden_size == 20
    assert build_model(make_config(str(YAML), model__options__hidden=7).model, planted_inputs()).gru.hidden_size == 7  # type: ignore[union-attr]
    with pytest.raises(TrainConfigError, match=r"model\.options\.hiden.*options of model arch 'step_gru': hidden"):
        make_config(str(YAML), model__options__hiden=7)
    with pytest.raises(TrainConfigError, match=r"model\.options\.kernel.*options of model arch 'step_gru'"):
        make_config("baseline_mult.yaml", model__arch="step_gru")  # MulT's option is not the GRU's


@pytest.mark.slow
@pytest.mark.usefixtures("step_gru_registered")
def test_trained_it_is_a_row_of_the_reports_tables(make_config: Callable[..., TrainConfig], trained_run: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / "edu_emotionnet" / "seed0")
    results = train_seeds(make_config(str(YAML), train__epochs=2), runs / "step_gru", [0, 1])
    assert [r["arch"] for r in results] == ["step_gru", "step_gru"]
    assert results[0]["config"]["model"]["options"] == {"hidden": 20}  # stored, and read back by the report

    report = write_report([runs], tmp_path / "report", resamples=200).read_text()
    table_i = report[report.index("## Table I"):report.index("## Table II")]
    table_ii = report[report.index("## Table II"):report.index("## Model sizes")]
    assert "| Step GRU | step_gru | 2 |" in table_i and "| Edu-EmotionNet | edu_emotionnet | 1 |" in table_i
    assert "| Step GRU | step_gru | 2 |" in table_ii  # ReportPlace("Step GRU", "fusion")
    assert "| edu_emotionnet vs step_gru (baseline) | 1 |" in report  # a paired test against the full model
