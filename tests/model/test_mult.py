"""MulT (Tsai et al. 2019) at the configured depth: learns the planted data, its layer counts follow the
config, and its temporal convolution sees exactly `options.kernel` steps, none of them later."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from edu_emotionnet.baselines import CrossmodalBlock, MulT
from edu_emotionnet.model import build_model
from edu_emotionnet.train import train

from tests.helpers.model import planted_inputs

MODALITIES = ("audio", "video", "text")
PAIRS = {f"{i}<-{j}" for i in MODALITIES for j in MODALITIES if i != j}


@pytest.mark.slow
def test_mult_learns_the_planted_signal(make_config, tmp_path: Path) -> None:
    results = train(make_config("baseline_mult.yaml"), tmp_path / "run")
    assert results["config"]["model"]["arch"] == "mult"
    assert results["test"]["macro_f1"] >= 0.6, results["test"]  # chance: 0.25


@pytest.mark.parametrize(
    ("variant", "layers", "mult_layers", "self_layers", "crossmodal", "self_attention"),
    [
        ("baseline_mult.yaml", 1, None, None, 1, 1),
        ("baseline_mult.yaml", 2, None, None, 2, 2),
        ("baseline_mult.yaml", 2, 3, None, 3, 2),
        ("baseline_mult.yaml", 2, None, 3, 2, 3),
        # size-matched: one crossmodal layer, half of `layers` (at least 1) of self-attention
        ("baseline_mult_size_matched.yaml", 1, 1, None, 1, 1),
        ("baseline_mult_size_matched.yaml", 4, 1, None, 1, 2),
        ("baseline_mult_size_matched.yaml", 5, 2, None, 2, 2),
        ("baseline_mult_size_matched.yaml", 4, None, 3, 4, 3),
    ],
)
def test_layer_counts_follow_the_config(
    make_config, variant: str, layers: int, mult_layers: int | None, self_layers: int | None, crossmodal: int, self_attention: int
) -> None:
    config = make_config(variant, model__layers=layers, model__options__crossmodal_layers=mult_layers,
                         model__options__self_attention_layers=self_layers)
    model = build_model(config.model, planted_inputs())
    assert isinstance(model, MulT)
    assert set(model.crossmodal) == PAIRS  # one crossmodal Transformer per ordered pair
    for stack in model.crossmodal.values():
        assert len(stack) == crossmodal and all(isinstance(b, CrossmodalBlock) for b in stack)
    for m in MODALITIES:
        assert len(model.self_attention[m].layers) == self_attention  # self-attention over the concatenation
        assert model.merge[m].in_features == 2 * config.model.d_model
    assert model.out.in_features == 3 * config.model.d_model


def test_paper_config_has_the_full_models_depth(make_config) -> None:
    from edu_emotionnet.config import load_train_config

    from tests.model.conftest import CONFIGS

    model = build_model(load_train_config(CONFIGS / "baseline_mult.yaml").model, planted_inputs(384))
    assert isinstance(model, MulT)
    assert {len(s) for s in model.crossmodal.values()} == {4}
    assert {len(t.layers) for t in model.self_attention.values()} == {4}
    assert model.merge["audio"].out_features == 256 and model.temporal["audio"].kernel_size == (3,)


@pytest.mark.parametrize("kernel", [1, 3])
def test_temporal_convolution_sees_the_last_kernel_steps(make_config, kernel: int) -> None:
    torch.manual_seed(0)
    model = build_model(make_config("baseline_mult.yaml", model__options__kernel=kernel).model, planted_inputs()).eval()
    assert isinstance(model, MulT)
    x = torch.randn(2, 10, model.merge["audio"].out_features)
    changed = x.clone()
    changed[:, 4] += 1.0  # only step 4 changes
    moved = (model._temporal("audio", x) - model._temporal("audio", changed)).abs().amax(dim=(0, 2)) > 1e-6
    assert moved.tolist() == [4 <= t < 4 + kernel for t in range(10)]


def test_size_matched_paper_config_has_one_crossmodal_layer_and_half_the_self_attention() -> None:
    from edu_emotionnet.config import load_train_config
    from edu_emotionnet.registry import model_spec

    from tests.model.conftest import CONFIGS

    config = load_train_config(CONFIGS / "baseline_mult_size_matched.yaml")
    model = build_model(config.model, planted_inputs(384))
    assert isinstance(model, MulT) and config.model.layers == 4
    assert {len(s) for s in model.crossmodal.values()} == {1}
    assert {len(t.layers) for t in model.self_attention.values()} == {2}
    assert model.merge["audio"].out_features == 256 and model.temporal["audio"].kernel_size == (3,)
    place = model_spec("mult_size_matched").table
    assert place.display == "MulT (size-matched)" and place.table_ii == "fusion" and not place.roles
