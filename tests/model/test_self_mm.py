"""Self-MM baseline: the ULGM's momentum centres and generated labels on hand-made numbers, its
training-only unimodal losses, and a tiny run on the planted data."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.self_mm import SelfMM, UnimodalLabelGenerator
from edu_emotionnet.tfl import sequence_loss
from edu_emotionnet.train import train

from tests.helpers.model import first_batch, seeded_model


@pytest.fixture(scope="module")
def batch(make_config: Callable[..., TrainConfig]) -> Batch:
    return first_batch(make_config("baseline_self_mm.yaml"), 8)  # two sessions of each class


def _model(make_config: Callable[..., TrainConfig], **model: object) -> SelfMM:
    return seeded_model(make_config, "baseline_self_mm.yaml", **model)  # type: ignore[return-value]


def test_centres_start_at_the_first_batch_mean_then_move_with_momentum() -> None:
    ulgm = UnimodalLabelGenerator(1, 3, 2, momentum=0.75)
    ulgm.update(0, torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0]]), torch.tensor([0, 0, 1]))
    assert ulgm.centres[0].tolist() == [[2.0, 0.0], [0.0, 4.0], [0.0, 0.0]]
    assert ulgm.ready[0].tolist() == [True, True, False]
    ulgm.update(0, torch.tensor([[6.0, 0.0], [5.0, 5.0]]), torch.tensor([0, 2]))
    # Class 0: 0.75 * (2, 0) + 0.25 * (6, 0); class 1 absent: unchanged; class 2 first seen: its mean.
    assert ulgm.centres[0].tolist() == [[3.0, 0.0], [0.0, 4.0], [5.0, 5.0]]
    assert ulgm.ready[0].all()


def test_unimodal_labels_follow_the_relative_distance_rule() -> None:
    ulgm = UnimodalLabelGenerator(2, 3, 2, momentum=0.9)
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 8.0]])
    for r in (0, 1):  # fused and unimodal spaces with the same centres, so the answers are by hand
        ulgm.update(r, centres, torch.tensor([0, 1, 2]))
    # Every item is of class 0 and its fused feature is (1, 0): own centre at 1, nearest other
    # (class 1) at 3, the centres 4 apart: delta_f = (3 - 1) / 4 = 0.5.
    unimodal = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    fused = torch.tensor([[1.0, 0.0]]).expand(4, -1)
    target, weight, assigned = ulgm.targets(1, unimodal, fused, torch.zeros(4, dtype=torch.long))
    # delta_s, alpha = delta_s / 0.5, y_s = (1 + alpha) / 2 + (delta_s - 0.5) / 2:
    #   (1, 0): delta_s = 0.5, y_s = 1 (as discriminative as the fused one: the hard label, weight 0)
    #   (2, 0): delta_s = 0, y_s = 0.25                  -> 0.625 on class 0, 0.375 on class 1
    #   (3, 0): delta_s = (1 - 3) / 4 = -0.5, y_s = -0.5 -> 0.25 on class 0, 0.75 on class 1
    #   (0, 5): nearest other is class 2 (at 3, centres 8 apart): delta_s = -0.25, y_s = -0.125
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.625, 0.375, 0.0], [0.25, 0.75, 0.0], [0.4375, 0.0, 0.5625]])
    torch.testing.assert_close(target, expected)
    torch.testing.assert_close(weight, torch.tanh(torch.tensor([0.0, 0.75, 1.5, 1.125])))
    assert assigned.tolist() == [0, 0, 1, 2]  # a negative unimodal label counts for the other class's centre


def test_labels_are_the_multimodal_one_until_every_centre_exists() -> None:
    ulgm = UnimodalLabelGenerator(2, 3, 2, momentum=0.9)
    ulgm.update(0, torch.eye(3, 2), torch.tensor([0, 1, 2]))
    ulgm.update(1, torch.eye(2), torch.tensor([0, 1]))  # class 2 has no unimodal centre yet
    target, weight, assigned = ulgm.targets(1, torch.ones(2, 2), torch.ones(2, 2), torch.tensor([2, 0]))
    assert target.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert weight.tolist() == [0.0, 0.0] and assigned.tolist() == [2, 0]


def test_unimodal_losses_only_in_training_and_centres_move_only_then(make_config, batch: Batch) -> None:
    model = _model(make_config)
    model.train()
    first = model(batch)
    main = sequence_loss(first.step_log_probs, batch.labels, first.step_valid, 0.0)
    # No centre yet: every unimodal label is the multimodal one with weight 0, so only the main loss.
    torch.testing.assert_close(model.loss(first, batch.labels), main)
    assert model.ulgm.ready.all()  # eight sessions, two per class: every centre set by that batch
    valid = first.step_valid
    fused_class0 = first.auxiliary["fusion_features"][valid & (batch.labels[:, None] == 0)]
    torch.testing.assert_close(model.ulgm.centres[0, 0], fused_class0.detach().mean(0))
    second = model(batch)
    assert model.loss(second, batch.labels) > sequence_loss(second.step_log_probs, batch.labels, second.step_valid, 0.0)

    model.eval()
    centres = model.ulgm.centres.clone()
    with torch.no_grad():
        out = model(batch)
        assert out.auxiliary is None
        torch.testing.assert_close(model.loss(out, batch.labels), sequence_loss(out.step_log_probs, batch.labels, out.step_valid, 0.0))
    assert torch.equal(model.ulgm.centres, centres)


def test_every_parameter_gets_a_gradient_in_training_even_under_bf16_autocast(make_config, batch: Batch) -> None:
    """DDP runs without find_unused_parameters; the recurrent sub-networks run in float32 under autocast."""
    model = _model(make_config).train()
    for _ in range(2):  # the second step has centres, so the unimodal losses are live
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(batch)
            loss = model.loss(out, batch.labels)
        loss.backward()
        assert math.isfinite(float(loss.detach()))
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_resumed_run_ends_like_an_uninterrupted_one_centres_included(make_config, tmp_path: Path) -> None:
    """The centres are state outside the optimizer: a resumed run must restore them (they are buffers)."""
    config = make_config("baseline_self_mm.yaml", train__epochs=3, train__patience=10)
    whole = train(config, tmp_path / "whole")

    def stop_after_first_epoch(epoch: int) -> None:
        if epoch == 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(config, tmp_path / "cut", on_epoch_end=stop_after_first_epoch)
    resumed = train(config, tmp_path / "cut")
    lines = [[{k: v for k, v in json.loads(line).items() if k not in {"seconds", "sessions_per_s"}}
              for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()] for run in ("whole", "cut")]
    assert lines[0] == lines[1]
    assert resumed["test"] == whole["test"]


@pytest.mark.slow
def test_self_mm_trains_clearly_above_chance(make_config, tmp_path: Path) -> None:
    results = train(make_config("baseline_self_mm.yaml", train__epochs=12), tmp_path / "self_mm")
    # Chance is 0.25 on four balanced classes; seeds 0-4 of this config scored 0.72-1.0.
    assert results["arch"] == "self_mm"
    assert results["test"]["macro_f1"] >= 0.6, results["test"]
    assert json.loads((tmp_path / "self_mm" / "results.json").read_text())["test"] == results["test"]
