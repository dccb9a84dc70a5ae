"""Strict config loading: base chains, rebasing in suites, --set overrides, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from edu_emotionnet.config import TrainConfigError, load_train_config, parse_overrides
from edu_emotionnet.experiments import load_suite
from edu_emotionnet.model import EduEmotionNetOptions
from edu_emotionnet.registry import (
    REPORT_ROLES,
    ModelSpec,
    ReportPlace,
    model_names,
    model_spec,
    models_with_role,
    register_model,
)
from edu_emotionnet.train import lr_factor
from pydantic import BaseModel

from edu_affect_data.core.strict_config import ConfigError, NoOptions
from tests.helpers.model import planted_inputs

CONFIGS = Path(__file__).resolve().parents[2] / "model" / "configs"


def test_every_shipped_config_validates() -> None:
    for path in CONFIGS.glob("*.yaml"):
        if not path.name.startswith("suite_"):
            load_train_config(path)


def test_variant_inherits_the_paper_config() -> None:
    config = load_train_config(CONFIGS / "ablation_no_cmaa.yaml")
    assert config.model.options == EduEmotionNetOptions(cmaa=False)  # the ablation's one switch, the paper's other options
    assert (config.model.d_model, config.train.lr, config.train.decay_epochs) == (256, 1e-4, [30, 40])


def test_suite_rebases_every_variant_onto_the_tiny_config() -> None:
    configs = load_suite(CONFIGS / "suite_demo.yaml", {"data": "somewhere"})
    assert len(configs) == 14
    # Every row of Table I: every registered architecture (but MulT (size-matched), left to the paper
    # and claims suites for the demo's time budget), and the four ablations of the full model.
    assert {c.model.arch for c in configs} == set(model_names()) - {"mult_size_matched"}
    assert {c.model.arch for c in load_suite(CONFIGS / "suite_paper.yaml", {"data": "somewhere"})} == set(model_names())
    assert {c.name for c in configs} >= {"no_cmaa", "no_mie", "no_tfl", "no_tfl_kl", "self_mm", "cfn_esa", "hybrid_fusion", "mult"}
    assert {c.model.d_model for c in configs} == {32}
    by_name = {c.name: c for c in configs}
    assert by_name["no_mie"].model.options == EduEmotionNetOptions(mie=False)
    assert by_name["edu_emotionnet"].model.options == EduEmotionNetOptions()
    assert by_name["mult"].model.arch == "mult"


def test_unknown_key_is_an_error_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\nmodel: {{d_modle: 16}}\n")
    with pytest.raises(TrainConfigError, match=r"model\.d_modle"):
        load_train_config(path)
    with pytest.raises(TrainConfigError, match=r"train\.epoch"):
        load_train_config(CONFIGS / "tiny_cpu.yaml", {"train.epoch": 3})


def test_overrides_parse_yaml_values() -> None:
    assert parse_overrides(["train.epochs=3", "model.options.cmaa=false", "train.decay_epochs=[2, 4]"]) == {
        "train.epochs": 3, "model.options.cmaa": False, "train.decay_epochs": [2, 4]}
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


def test_the_registry_drives_modalities_model_and_options(make_config) -> None:
    from edu_emotionnet.model import build_model

    for name in model_names():
        spec = model_spec(name)
        config = make_config(model__arch=name)
        assert config.model.modalities == spec.modalities
        assert type(config.model.options) is spec.options and config.model.options == spec.options()  # its own, at defaults
        model = build_model(config.model, planted_inputs())
        assert isinstance(model, spec.model) and model.modalities == spec.modalities
    assert model_spec("visual_only").modalities == ("video",) and model_spec("mult").table.table_ii == "fusion"


def test_every_report_role_and_the_full_model_are_held_as_the_paper_says() -> None:
    holders = {role: models_with_role(role) for role in REPORT_ROLES}
    assert holders == {"claim_b": ("audio_only", "visual_only", "text_only", "early_fusion", "late_fusion"),
                       "claim_d": ("late_fusion",), "figure_4": ("hybrid_fusion",)}
    assert [n for n in model_names() if model_spec(n).table.full_model] == ["edu_emotionnet"]
    assert [n for n in model_names() if model_spec(n).table.table_ii is None] == []


def test_an_options_key_of_another_arch_is_an_error_naming_the_arch_and_its_options(tmp_path: Path) -> None:
    with pytest.raises(TrainConfigError, match=r"model\.options\.cmaa.*options of model arch 'mult': crossmodal_layers, self_attention_layers, kernel"):
        load_train_config(CONFIGS / "baseline_mult.yaml", {"model.options.cmaa": False})
    path = tmp_path / "inherits_options.yaml"  # options written into a base are checked against the variant's arch
    path.write_text(f"base: {CONFIGS / 'ablation_no_tfl.yaml'}\nmodel: {{arch: self_mm}}\n")
    with pytest.raises(TrainConfigError, match=r"model\.options\.tfl.*options of model arch 'self_mm': centre_momentum"):
        load_train_config(path)
    with pytest.raises(TrainConfigError, match=r"model\.options\.kernel: Input should be greater than or equal to 1"):
        load_train_config(CONFIGS / "baseline_mult.yaml", {"model.options.kernel": 0})


def test_spec_checks_its_options_and_report_place() -> None:
    from edu_emotionnet.baselines import LateFusion

    place = ReportPlace("Late AT", "fusion")
    with pytest.raises(ValueError, match="modalities"):
        ModelSpec("bad", LateFusion, ("transcript",), place)
    with pytest.raises(ValueError, match="must forbid unknown keys"):
        ModelSpec("bad", LateFusion, ("audio",), place, options=BaseModel)
    with pytest.raises(ValueError, match="only the full model has ablations"):
        ReportPlace("Late AT", "fusion", ablations={"cmaa": "-CMAA"})
    with pytest.raises(ValueError, match=r"unknown report roles \['claim_z'\]"):
        ReportPlace("Late AT", roles=frozenset({"claim_z"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ablation 'gate' is not a boolean option"):
        ModelSpec("bad", LateFusion, ("audio",), ReportPlace("Bad", full_model=True, ablations={"gate": "-G"}))


def test_a_registered_model_is_buildable_and_placed_by_its_spec(make_config, monkeypatch: pytest.MonkeyPatch) -> None:
    from edu_emotionnet import registry
    from edu_emotionnet.baselines import LateFusion
    from edu_emotionnet.model import build_model
    from edu_emotionnet.runs import ModelRuns

    monkeypatch.setattr(registry.MODELS, "_registered", dict(registry.MODELS._registered))  # this test's registrations end with it
    register_model(ModelSpec("audio_text_late", LateFusion, ("audio", "text"), ReportPlace("Late AT", "fusion")))
    config = make_config(model__arch="audio_text_late")
    assert config.model.modalities == ("audio", "text") and config.model.options == NoOptions()
    model = build_model(config.model, planted_inputs())
    assert isinstance(model, LateFusion) and model.modalities == ("audio", "text")
    runs = ModelRuns("late_at", "audio_text_late", config.model.options)
    assert (runs.display, runs.table_ii_group, runs.is_full_model, runs.is_ablation) == ("Late AT", "fusion", False, False)
    with pytest.raises(ValueError, match="already registered"):
        register_model(ModelSpec("audio_text_late", LateFusion, ("audio",), ReportPlace("Late AT", "fusion")))
