"""HybridFusion (after Moorthy & Moon 2025): learns the planted data, its blocks follow the config, and its
fusion attention is a distribution over the modalities present at each step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from edu_emotionnet.hybrid_fusion import HybridBlock, HybridFusion
from edu_emotionnet.model import build_model
from edu_emotionnet.train import train

from tests.helpers.model import first_batch, planted_inputs

MODALITIES = ("audio", "video", "text")


@pytest.mark.slow
def test_hybrid_fusion_learns_the_planted_signal(make_config, tmp_path: Path) -> None:
    results = train(make_config("baseline_hybrid_fusion.yaml"), tmp_path / "run")
    assert results["config"]["model"]["arch"] == "hybrid_fusion"
    # Chance is 0.25 on four balanced classes; every modality carries the planted label.
    assert results["test"]["macro_f1"] >= 0.6, results["test"]


def test_blocks_follow_the_config(make_config) -> None:
    for blocks in (1, 2):
        model = build_model(make_config("baseline_hybrid_fusion.yaml", model__options__blocks=blocks).model, planted_inputs())
        assert isinstance(model, HybridFusion)
        assert len(model.blocks) == blocks and all(isinstance(b, HybridBlock) for b in model.blocks)
        block = model.blocks[0]
        assert set(block.single) == set(MODALITIES)  # SMA: one self-attention per modality
        assert set(block.joint_attention) == set(MODALITIES)  # each modality against the joint vector
        assert set(block.cross) == {f"{i}<-{j}" for i in MODALITIES for j in MODALITIES if i != j}  # PCMA: 6 directions


def test_fusion_weights_are_a_distribution_over_present_modalities(make_config) -> None:
    config = make_config("baseline_hybrid_fusion.yaml")
    torch.manual_seed(0)
    model = build_model(config.model, planted_inputs()).eval()
    batch = first_batch(config, 4)
    valid = batch.step_valid()
    no_video = batch.masked(frame_mask=torch.zeros_like(batch.frame_mask))
    weights = model(no_video).weights
    assert weights is not None and weights.shape == (*valid.shape, 3)
    assert torch.allclose(weights.sum(-1), torch.ones_like(weights[..., 0]), atol=1e-6)
    assert (weights[..., 1][valid] == 0).all()  # video absent: weight exactly zero
    assert (weights[..., [0, 2]][valid] > 0).any(-1).all()
    audio_only = no_video.masked(token_mask=torch.zeros_like(batch.token_mask))
    weights = model(audio_only).weights
    assert weights is not None
    has_audio = model.encoder(audio_only)[1]["audio"]
    assert has_audio.any() and not has_audio.all()
    # Steps with audio give it all the weight; steps with nothing present weigh all three (their learned
    # missing vectors), so the output stays defined.
    assert torch.equal(weights[has_audio], torch.tensor([1.0, 0.0, 0.0]).expand(int(has_audio.sum()), 3))
    assert (weights[~has_audio] > 0).all()
