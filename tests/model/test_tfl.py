"""The temporal loss: KL direction, masking of padded steps, session prediction."""

from __future__ import annotations

import math

import torch
from edu_emotionnet.mie import normalise_weights
from edu_emotionnet.tfl import consistency_kl, sequence_loss, session_log_probs


def test_consistency_kl_is_kl_of_previous_against_current() -> None:
    prev, cur = torch.tensor([0.7, 0.1, 0.1, 0.1]), torch.tensor([0.25, 0.25, 0.25, 0.25])
    log_probs = torch.stack([prev, cur]).log()[None]
    expected = sum(p * math.log(p / q) for p, q in zip(prev.tolist(), cur.tolist(), strict=True))
    reverse = sum(q * math.log(q / p) for p, q in zip(prev.tolist(), cur.tolist(), strict=True))
    value = float(consistency_kl(log_probs, torch.ones(1, 2, dtype=torch.bool)))
    assert abs(value - expected) < 1e-6
    assert abs(value - reverse) > 1e-2  # the two directions differ here, so the test can tell


def test_sequence_loss_ignores_padded_steps() -> None:
    log_probs = torch.log_softmax(torch.randn(1, 4, 4), -1)
    valid = torch.tensor([[True, True, False, False]])
    garbage = log_probs.clone()
    garbage[:, 2:] = torch.log_softmax(torch.randn(1, 2, 4) * 10, -1)
    labels = torch.tensor([2])
    assert torch.allclose(sequence_loss(log_probs, labels, valid, 0.5), sequence_loss(garbage, labels, valid, 0.5))
    ce = -(log_probs[0, 0, 2] + log_probs[0, 1, 2]) / 2
    assert torch.allclose(sequence_loss(log_probs, labels, valid, 0.0), ce)


def test_session_prediction_last_valid_or_mean() -> None:
    log_probs = torch.log(torch.tensor([[[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]]]))
    valid = torch.tensor([[True, True, False]])
    assert session_log_probs(log_probs, valid, "last").exp().argmax().item() == 1
    mean = session_log_probs(log_probs, valid, "mean").exp()[0]
    assert torch.allclose(mean, torch.tensor([0.4, 0.4, 0.1, 0.1]))


def test_weights_normalise_over_available_and_vanish_without_any() -> None:
    raw = torch.tensor([[[0.9, 0.3, 0.6], [0.9, 0.3, 0.6]]])
    avail = torch.tensor([[[True, False, True], [False, False, False]]])
    weights = normalise_weights(raw, avail)
    assert torch.allclose(weights[0, 0], torch.tensor([0.6, 0.0, 0.4]))
    assert torch.equal(weights[0, 1], torch.zeros(3))
