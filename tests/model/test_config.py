"""Strict config loading: base chains, rebasing in suites, --set overrides, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from edu_emotionnet.config import TrainConfigError, load_train_config, parse_overrides
from edu_emotionnet.experiments import load_suite
from edu_emotionnet.train import lr_factor

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"


def test_every_shipped_config_validates() -> None:
    for path in CONFIGS.glob("*.yaml"):
        if not path.name.startswith("suite_"):
            load_train_config(path)


def test_variant_inherits_the_paper_config() -> None:
    config = load_train_config(CONFIGS / "ablation_no_cmaa.yaml")
    assert (config.model.cmaa, config.model.d_model, config.train.lr, config.train.decay_epochs) == (False, 256, 1e-4, [30, 40])


def test_suite_rebases_every_variant_onto_the_tiny_config() -> None:
    configs = load_suite(CONFIGS / "suite_demo.yaml", {"data": "somewhere"})
    assert len(configs) == 10
    assert {c.model.d_model for c in configs} == {32}
    by_name = {c.name: c for c in configs}
    assert by_name["no_mie"].model.mie is False and by_name["edu_emotionnet"].model.mie is True
    assert by_name["mult"].model.arch == "mult"


def test_unknown_key_is_an_error_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\nmodel: {{d_modle: 16}}\n")
    with pytest.raises(TrainConfigError, match=r"model\.d_modle"):
        load_train_config(path)
    with pytest.raises(TrainConfigError, match=r"train\.epoch"):
        load_train_config(CONFIGS / "tiny_cpu.yaml", {"train.epoch": 3})


def test_overrides_parse_yaml_values() -> None:
    assert parse_overrides(["train.epochs=3", "model.cmaa=false", "train.decay_epochs=[2, 4]"]) == {
        "train.epochs": 3, "model.cmaa": False, "train.decay_epochs": [2, 4]}
    with pytest.raises(TrainConfigError):
        parse_overrides(["no-equals-sign"])


def test_learning_rate_warms_up_then_steps_down() -> None:
    factors = [lr_factor(e, 5, [30, 40], 0.1) for e in (0, 4, 5, 29, 30, 39, 40, 49)]
    assert factors == pytest.approx([0.2, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
