"""Run folders written before the model options still load: their stored configs (results.json,
ckpt.pt, best.pt) carry every arch's knobs as flat `model:` keys, and `moved_keys.remap_moved_keys`
is the one place that moves them into `model.options`. A person's YAML with an old key is an error
naming what to write instead."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from edu_emotionnet.baselines import MulTOptions
from edu_emotionnet.cfn_esa import CFNESAOptions
from edu_emotionnet.checkpoint import BEST, load_trained
from edu_emotionnet.config import TrainConfig, TrainConfigError, config_from_dict
from edu_emotionnet.hybrid_fusion import HybridFusionOptions
from edu_emotionnet.model import EduEmotionNetOptions
from edu_emotionnet.moved_keys import MOVED_MODEL_KEYS, remap_moved_keys
from edu_emotionnet.runs import collect_runs
from edu_emotionnet.self_mm import SelfMMOptions
from edu_emotionnet.train import train

from edu_affect_data.core.strict_config import ConfigError, NoOptions

#: The arch-specific keys every stored config had before the options, at their old defaults
#: (`ModelConfig.model_dump()` wrote all of them, for every arch).
OLD_FLAT_KEYS: dict[str, Any] = {
    "cmaa": True, "mie": True, "tfl": True, "kl_weight": 0.1, "mult_layers": None, "mult_kernel": 3, "hybrid_blocks": 1,
    "self_mm": {"centre_momentum": 0.9},
    "cfn_esa": {"rume_layers": 2, "acme_layers": None, "shift_hidden": 128, "shift_dropout": 0.05, "shift_weight": 1.0},
}


def old_format(tree: dict[str, Any], **changed: Any) -> dict[str, Any]:
    """`tree` as the code before the options stored it: no `options`, every old key, `changed` applied."""
    model = {key: value for key, value in tree["model"].items() if key != "options"}
    return {**tree, "model": {**model, **OLD_FLAT_KEYS, **changed}}


def test_the_table_names_every_old_key_once() -> None:
    assert set(MOVED_MODEL_KEYS) == set(OLD_FLAT_KEYS)


@pytest.mark.parametrize(
    ("variant", "changed", "expected"),
    [
        ("edu_emotionnet.yaml", {}, EduEmotionNetOptions()),
        ("ablation_no_tfl.yaml", {"tfl": False}, EduEmotionNetOptions(tfl=False, tfl_kl=False)),  # old -TFL: both off
        ("edu_emotionnet.yaml", {"cmaa": False, "kl_weight": 0.3}, EduEmotionNetOptions(cmaa=False, kl_weight=0.3)),
        ("baseline_mult.yaml", {"mult_layers": 2, "mult_kernel": 1}, MulTOptions(crossmodal_layers=2, kernel=1)),
        ("baseline_hybrid_fusion.yaml", {"hybrid_blocks": 2}, HybridFusionOptions(blocks=2)),
        ("baseline_self_mm.yaml", {"self_mm": {"centre_momentum": 0.5}}, SelfMMOptions(centre_momentum=0.5)),
        ("baseline_cfn_esa.yaml", {"cfn_esa": {**OLD_FLAT_KEYS["cfn_esa"], "shift_weight": 0.0}}, CFNESAOptions(shift_weight=0.0)),
        ("baseline_late_fusion.yaml", {"cmaa": False, "hybrid_blocks": 3}, NoOptions()),  # knobs it never read: dropped
    ],
)
def test_an_old_stored_config_loads_with_its_arch_options(
    make_config: Callable[..., TrainConfig], variant: str, changed: dict[str, Any], expected: Any
) -> None:
    config = make_config(variant)
    stored = old_format(config.model_dump(mode="json"), **changed)
    loaded = config_from_dict(stored)
    assert loaded.model.options == expected
    assert loaded.model_dump(exclude={"model": {"options"}}) == config.model_dump(exclude={"model": {"options"}})


def test_a_config_stored_today_passes_the_remap_unchanged(make_config: Callable[..., TrainConfig]) -> None:
    stored = make_config("baseline_mult.yaml", model__options__kernel=1).model_dump(mode="json")
    assert remap_moved_keys(stored) == stored
    assert config_from_dict(stored).model.options == MulTOptions(kernel=1)


def test_an_old_key_disagreeing_with_its_option_is_an_error(make_config: Callable[..., TrainConfig]) -> None:
    stored = make_config("ablation_no_tfl.yaml").model_dump(mode="json")
    stored["model"]["tfl"] = True
    with pytest.raises(ConfigError, match=r"model\.tfl and model\.options\.tfl disagree"):
        remap_moved_keys(stored)


def test_an_old_key_in_a_yaml_says_what_to_write(make_config: Callable[..., TrainConfig], tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("base: edu_emotionnet.yaml\nmodel: {tfl: false}\n")  # make_config rebases it onto tiny_cpu.yaml
    with pytest.raises(TrainConfigError, match=r"model\.tfl moved: write model\.options\.tfl \(an option of arch edu_emotionnet\)"):
        make_config(str(path))
    with pytest.raises(TrainConfigError, match=r"model\.mult_kernel was an option of arch mult \(model\.options\.kernel\); arch hybrid_fusion has no such option: remove it"):
        make_config("baseline_hybrid_fusion.yaml", model__mult_kernel=3)
    with pytest.raises(TrainConfigError, match=r"model\.self_mm moved: write model\.options\.KEY for each of its keys"):
        make_config("baseline_self_mm.yaml", model__self_mm={"centre_momentum": 0.5})


def test_an_old_run_folder_loads_and_is_reported_as_what_it_was(make_config: Callable[..., TrainConfig], tmp_path: Path) -> None:
    run = tmp_path / "runs" / "no_tfl"
    train(make_config("ablation_no_tfl.yaml", train__epochs=1), run)
    best = torch.load(run / BEST, weights_only=False)  # rewrite what the old code stored
    torch.save({**best, "config": old_format(best["config"], tfl=False)}, run / BEST)
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "config": old_format(results["config"], tfl=False)}))

    trained = load_trained(run)
    assert trained.config.model.options == EduEmotionNetOptions(tfl=False, tfl_kl=False)  # the old -TFL: both off
    assert trained.model.feedback.feedback is False and trained.model.kl_weight == 0.0  # type: ignore[union-attr]
    (group,) = collect_runs([tmp_path / "runs"])
    assert (group.is_ablation, group.switched_off, group.display) == (True, ("tfl", "tfl_kl"), "Edu-EmotionNet -TFL feedback -TFL KL")
