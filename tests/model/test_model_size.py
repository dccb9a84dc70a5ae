"""Parameter counts: exact on hand-countable modules, equal to what training builds, and the paper-size
ratios the README states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edu_emotionnet.config import config_from_dict, load_train_config
from edu_emotionnet.data import session_datasets
from edu_emotionnet.model import build_model
from edu_emotionnet.model_size import ModelSize, count_parameters, parameter_counts, parameter_table
from torch import nn

from tests.helpers.model import planted_inputs
from tests.model.conftest import CONFIGS


def test_count_of_hand_countable_modules() -> None:
    assert count_parameters(nn.Linear(3, 4)) == 3 * 4 + 4
    assert count_parameters(nn.Sequential(nn.LayerNorm(5), nn.Linear(5, 2, bias=False))) == 2 * 5 + 5 * 2
    shared = nn.Linear(2, 2)
    assert count_parameters(nn.Sequential(shared, shared)) == 6  # a shared parameter counts once


@pytest.mark.slow
def test_counts_equal_real_models_and_the_trained_run(make_config, trained_run: Path) -> None:
    results = json.loads((trained_run / "results.json").read_text())
    config = config_from_dict(results["config"])
    assert config.data is not None
    _, inputs = session_datasets(config.data, config.model, config.cache_dir)
    # What the trainer counted and stored is what the meta-device count gives for the same config.
    assert parameter_counts([config], inputs) == [ModelSize(config.name, "edu_emotionnet", results["parameters"])]
    configs = [make_config(name) for name in ("baseline_audio.yaml", "baseline_mult.yaml", "baseline_hybrid_fusion.yaml")]
    counts = parameter_counts(configs, planted_inputs(48))
    for config, row in zip(configs, counts, strict=True):
        assert row.parameters == sum(p.numel() for p in build_model(config.model, planted_inputs(48)).parameters())
    assert counts == parameter_counts(configs, planted_inputs(48), device="cpu")


@pytest.mark.parametrize("name", ["edu_emotionnet.yaml", "baseline_text.yaml", "baseline_mult.yaml", "baseline_hybrid_fusion.yaml"])
def test_text_width_adds_its_layernorm_and_projection_row(make_config, name: str) -> None:
    # The text encoder reads H-dim token embeddings: LayerNorm(H) (2H) and Linear(H, d) (H*d + d).
    config = make_config(name)
    (small,), (large,) = parameter_counts([config], planted_inputs(40)), parameter_counts([config], planted_inputs(41))
    assert large.parameters - small.parameters == config.model.d_model + 2


@pytest.mark.parametrize("text_dim", [384, 768])
def test_paper_size_ratios(text_dim: int) -> None:
    """At d=256, 4 layers, 4 heads: MulT has 6 crossmodal and 3 self-attention stacks of 4 layers against the
    full model's 3 encoder stacks, so 2-3x its parameters; HybridFusion adds one hybrid block, < 1.5x."""
    names = ("edu_emotionnet.yaml", "baseline_mult.yaml", "baseline_hybrid_fusion.yaml")
    full, mult, hybrid = parameter_counts([load_train_config(CONFIGS / n) for n in names], planted_inputs(text_dim))
    assert 2.0 <= mult.parameters / full.parameters <= 3.0, (mult, full)
    assert 1.0 <= hybrid.parameters / full.parameters <= 1.5, (hybrid, full)


@pytest.mark.parametrize("text_dim", [384, 768])
def test_size_matched_mult_is_within_5_percent_of_the_full_model_at_the_paper_size(text_dim: int) -> None:
    """MulT (size-matched) at the paper config: about the full model's count (measured 0.9998x),
    where the paper-depth MulT has 2.55x; at the tiny CPU size it is the smallest MulT there is."""
    names = ("edu_emotionnet.yaml", "baseline_mult.yaml", "baseline_mult_size_matched.yaml")
    full, mult, matched = parameter_counts([load_train_config(CONFIGS / n) for n in names], planted_inputs(text_dim))
    assert abs(matched.parameters / full.parameters - 1) <= 0.05, (matched, full)
    assert matched.arch == "mult_size_matched" and mult.parameters > 2 * matched.parameters
    tiny = [load_train_config(CONFIGS / n, rebase=CONFIGS / "tiny_cpu.yaml") for n in names]
    tiny_full, tiny_mult, tiny_matched = parameter_counts(tiny, planted_inputs(text_dim))
    # tiny_cpu.yaml has 1 layer: one layer per stack is the floor, the paper-depth row is there too
    assert tiny_matched.parameters == tiny_mult.parameters and 1.3 <= tiny_matched.parameters / tiny_full.parameters <= 1.45


def test_the_paper_and_claims_suites_hold_the_size_matched_mult_and_the_demo_suite_does_not() -> None:
    from edu_emotionnet.experiments import load_suite

    def archs(suite: str) -> list[str]:
        return [c.model.arch for c in load_suite(CONFIGS / suite, {"data": "somewhere"})]

    paper, claims, demo = archs("suite_paper.yaml"), archs("suite_claims.yaml"), archs("suite_demo.yaml")
    assert {"mult", "mult_size_matched"} <= set(paper) and {"mult", "mult_size_matched"} <= set(claims)
    assert "mult" in demo and "mult_size_matched" not in demo  # the demo's time budget
    assert sorted(set(paper) - {"mult_size_matched"}) == sorted(set(demo))
    (config,) = [c for c in load_suite(CONFIGS / "suite_paper.yaml", {"data": "somewhere"}) if c.model.arch == "mult_size_matched"]
    assert config.model.d_model == 256 and config.model.layers == 4  # the paper's size, not tiny_cpu's


def test_table_lists_every_row_with_its_ratio() -> None:
    rows = [ModelSize("full", "edu_emotionnet", 2_000_000), ModelSize("tiny", "mult", 5_000)]
    table = parameter_table(rows, reference="full").splitlines()
    assert table[0] == "| model | arch | parameters | size | x full |"
    assert table[2] == "| full | edu_emotionnet | 2,000,000 | 2.00 M | 1.00 |"
    assert table[3] == "| tiny | mult | 5,000 | 5.0 k | 0.00 |"
    assert len(parameter_table(rows).splitlines()[0].split("|")) == 6  # no ratio column without a reference
    with pytest.raises(ValueError, match="no model named 'absent'"):
        parameter_table(rows, reference="absent")
