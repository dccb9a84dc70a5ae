"""CFN-ESA baseline: the emotion-shift targets and loss on hand-made numbers, the shift module's
causality, its training-only use, and a tiny run on the planted data."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from edu_emotionnet.batch import Batch
from edu_emotionnet.cfn_esa import CFNESA, shift_loss, shift_targets
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.tfl import sequence_loss
from edu_emotionnet.train import train

from tests.helpers.model import first_batch, seeded_model

CUT_S = 2.0  # steps 0 and 1 end at 2.0 s


@pytest.fixture(scope="module")
def batch(make_config: Callable[..., TrainConfig]) -> Batch:
    return first_batch(make_config("baseline_cfn_esa.yaml"), 6)


def _model(make_config: Callable[..., TrainConfig], **model: object) -> CFNESA:
    return seeded_model(make_config, "baseline_cfn_esa.yaml", **model)  # type: ignore[return-value]


def _changed_after(batch: Batch, cut_s: float) -> Batch:
    """Every input later than `cut_s` replaced by other values."""
    gen = torch.Generator().manual_seed(1)
    audio, frames, tokens = batch.audio.clone(), batch.frame_embeddings.clone(), batch.tokens.clone()
    late_audio = slice(int(cut_s * 100), None)
    audio[:, late_audio] = torch.randn(audio[:, late_audio].shape, generator=gen) * 3
    late_frames, late_tokens = batch.frame_times >= cut_s, batch.token_end_s >= cut_s
    frames[late_frames] = (torch.rand(frames[late_frames].shape, generator=gen) * 3).to(frames.dtype)
    tokens[late_tokens] = torch.randn(tokens[late_tokens].shape, generator=gen) * 3
    return replace(batch, audio=audio, frame_embeddings=frames, tokens=tokens)


def test_shift_targets_say_whether_two_sessions_labels_differ() -> None:
    assert shift_targets(torch.tensor([0, 0, 2])).tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 0]]


def test_shift_loss_is_class_balanced_over_pairs_that_both_have_the_step() -> None:
    labels = torch.tensor([0, 0, 1])
    step_valid = torch.tensor([[True, True], [True, False], [True, False]])  # step 1: session 0 only
    z = torch.full((3, 3, 2), 50.0)  # logits [0, z]: pairs without both steps would cost ~50
    targets = shift_targets(labels).bool()
    z[:, :, 0] = torch.where(targets, math.log(3.0), 0.0)  # step 0: CE log(4/3) if shift, log 2 if not
    z[0, 0, 1] = math.log(3.0)  # step 1, pair (0, 0), no shift: CE log 4
    logits = torch.stack([torch.zeros_like(z), z], dim=-1)
    no_shift = (5 * math.log(2.0) + math.log(4.0)) / 6  # 5 pairs at step 0, 1 at step 1
    shift = math.log(4.0 / 3.0)  # 4 pairs, all at step 0
    torch.testing.assert_close(shift_loss(logits, labels, step_valid), torch.tensor((no_shift + shift) / 2))
    # One class only (every session alike): the plain mean over its pairs.
    same = torch.zeros(3, dtype=torch.long)
    torch.testing.assert_close(shift_loss(torch.zeros(3, 3, 2, 2), same, step_valid), torch.tensor(math.log(2.0)))


def test_shift_pairs_at_step_t_ignore_inputs_after_t(make_config, batch: Batch) -> None:
    # Dropout off so that two forward passes in training mode are comparable.
    model = _model(make_config, dropout=0.0, options__shift_dropout=0.0).train()
    before, after = model(batch), model(_changed_after(batch, CUT_S))
    shift_before, shift_after = before.auxiliary["shift_logits"], after.auxiliary["shift_logits"]
    assert shift_before.shape == (6, 6, int(batch.n_steps.max()), 2)
    torch.testing.assert_close(shift_before[:, :, :2], shift_after[:, :, :2], atol=1e-5, rtol=0)
    assert not torch.allclose(shift_before[:, :, 2:], shift_after[:, :, 2:], atol=1e-3)  # the test can fail
    torch.testing.assert_close(before.step_log_probs[:, :2], after.step_log_probs[:, :2], atol=1e-5, rtol=0)


def test_shift_task_only_in_training_and_absent_at_weight_zero(make_config, batch: Batch) -> None:
    model = _model(make_config).eval()
    with torch.no_grad():
        out = model(batch)
    assert out.auxiliary is None
    torch.testing.assert_close(model.loss(out, batch.labels), sequence_loss(out.step_log_probs, batch.labels, out.step_valid, 0.0))
    model.train()
    out = model(batch)
    main = sequence_loss(out.step_log_probs, batch.labels, out.step_valid, 0.0)
    expected = main + shift_loss(out.auxiliary["shift_logits"], batch.labels, out.step_valid)  # shift_weight 1
    torch.testing.assert_close(model.loss(out, batch.labels), expected)
    without = _model(make_config, options__shift_weight=0.0).train()
    assert without.shift is None and without(batch).auxiliary is None


def test_every_parameter_gets_a_gradient_in_training_even_under_bf16_autocast(make_config, batch: Batch) -> None:
    """DDP runs without find_unused_parameters; the GRUs run in float32 under autocast."""
    model = _model(make_config).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        loss = model.loss(out, batch.labels)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.slow
def test_cfn_esa_trains_clearly_above_chance(make_config, tmp_path: Path) -> None:
    results = train(make_config("baseline_cfn_esa.yaml", train__epochs=12), tmp_path / "cfn_esa")
    # Chance is 0.25 on four balanced classes; seeds 0-4 of this config scored 1.0.
    assert results["arch"] == "cfn_esa"
    assert results["test"]["macro_f1"] >= 0.6, results["test"]
