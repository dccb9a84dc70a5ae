"""Strict config loading: base chains, rebasing in suites, --set overrides, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from edu_emotionnet.config import TrainConfigError, load_train_config, parse_overrides
from edu_emotionnet.experiments import load_suite
from edu_emotionnet.registry import ModelSpec, model_names, model_spec, register_model
from edu_emotionnet.train import lr_factor

from edu_affect_data.core.strict_config import ConfigError

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
    assert len(configs) == 13
    # Every row of Table I: every registered architecture, and the three ablations of the full model.
    assert {c.model.arch for c in configs} == set(model_names())
    assert {c.name for c in configs} >= {"no_cmaa", "no_mie", "no_tfl", "self_mm", "cfn_esa", "hybrid_fusion", "mult"}
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


def test_unknown_arch_is_a_config_error_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(TrainConfigError, match=r"model\.arch.*unknown model arch 'gru'.*edu_emotionnet.*mult"):
        load_train_config(CONFIGS / "tiny_cpu.yaml", {"model.arch": "gru"})
    path = tmp_path / "typo.yaml"
    path.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\nmodel: {{arch: MulT}}\n")
    with pytest.raises(TrainConfigError, match=r"unknown model arch 'MulT'"):
        load_train_config(path)


def test_set_opens_a_null_section(tmp_path: Path) -> None:
    path = tmp_path / "null_section.yaml"
    path.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\neval: null\n")
    config = load_train_config(path, parse_overrides(["eval.robustness_seed=7"]))
    assert config.eval.robustness_seed == 7 and config.model.d_model == 32


def test_bad_yaml_in_set_is_a_train_config_error() -> None:
    with pytest.raises(TrainConfigError, match=r"--set 'train.decay_epochs=\[1, 2'.*not valid YAML"):
        parse_overrides(["train.decay_epochs=[1, 2"])
    assert issubclass(TrainConfigError, ConfigError)


def test_bad_suite_is_a_train_config_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text("base: tiny.yaml\nrun: [a.yaml]\n")
    with pytest.raises(TrainConfigError, match=r"runs"):
        load_suite(path)


def test_the_registry_drives_modalities_model_and_family(make_config) -> None:
    from edu_emotionnet.model import build_model

    for name in model_names():
        spec = model_spec(name)
        config = make_config(model__arch=name)
        assert config.model.modalities == spec.modalities
        model = build_model(config.model, 32)
        assert isinstance(model, spec.model_class()) and model.modalities == spec.modalities
    assert model_spec("visual_only").modalities == ("video",) and model_spec("mult").family == "fusion"


def test_a_registered_model_is_buildable_and_reported_by_family(make_config, monkeypatch: pytest.MonkeyPatch) -> None:
    from edu_emotionnet import registry
    from edu_emotionnet.baselines import LateFusion
    from edu_emotionnet.model import build_model
    from edu_emotionnet.report import ModelRuns

    monkeypatch.setattr(registry.MODELS, "_registered", dict(registry.MODELS._registered))  # this test's registrations end with it
    register_model(ModelSpec("audio_text_late", LateFusion, ("audio", "text"), "fusion"))
    config = make_config(model__arch="audio_text_late")
    assert config.model.modalities == ("audio", "text")
    model = build_model(config.model, 32)
    assert isinstance(model, LateFusion) and model.modalities == ("audio", "text")
    assert ModelRuns("late_at", "audio_text_late", {"cmaa": True, "mie": True, "tfl": True}).family == "fusion"
    with pytest.raises(ValueError, match="already registered"):
        register_model(ModelSpec("audio_text_late", LateFusion, ("audio",), "fusion"))
    with pytest.raises(ValueError, match="modalities"):
        ModelSpec("bad", LateFusion, ("transcript",), "fusion")
