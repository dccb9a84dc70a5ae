"""Streaming inference reproduces the offline causal outputs step by step, incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from edu_emotionnet.checkpoint import load_trained
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate
from edu_emotionnet.incremental import GrowingBuffer, LateInputError
from edu_emotionnet.model import build_model
from edu_emotionnet.streaming import StepFeatures, StreamingPredictor, find_session, session_steps
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.model.streaming_items import TEXT_DIM, session_item, tiny_config


@pytest.mark.slow
def test_streamed_steps_equal_the_offline_forward(trained_run: Path) -> None:
    predictor = StreamingPredictor(trained_run)
    assert predictor.incremental
    model = load_trained(trained_run).model
    for session in ("test:0", "test:5"):
        predictor.reset()
        item = find_session(trained_run, session)
        steps = session_steps(item, 1.0)
        assert len(steps) == item["n_steps"]
        streamed = [predictor.step(f) for f in steps]
        with torch.no_grad():
            offline = model(collate([item]))
        for out in streamed:
            expected = offline.step_log_probs[0, out.step].exp()
            assert torch.allclose(torch.tensor(list(out.probs.values())), expected, atol=1e-5)
            assert (out.weights is not None and abs(sum(out.weights.values()) - 1) < 1e-5) or sum(out.weights.values()) == 0
            assert out.latency_ms > 0


@pytest.mark.slow
def test_predict_command_prints_every_step(trained_run: Path) -> None:
    item = find_session(trained_run, "test:1")
    result = CliRunner().invoke(app, ["predict", str(trained_run), item["session_id"]])
    assert result.exit_code == 0, result.output
    step_lines = [line for line in result.output.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert len(step_lines) == item["n_steps"]
    assert "ms" in step_lines[-1]


@pytest.mark.slow
def test_unknown_session_is_a_clear_error(trained_run: Path) -> None:
    result = CliRunner().invoke(app, ["predict", str(trained_run), "no_such_session"])
    assert result.exit_code != 0
    assert "no_such_session" in result.output and "Traceback" not in result.output  # one line (cli.errors)


def _streamed_vs_offline(config: TrainConfig, items: list[dict], seed: int = 0) -> float:
    """Largest difference over every step of `items` between the incremental stream and the full forward
    (step probabilities and modality weights)."""
    torch.manual_seed(seed)
    model = build_model(config.model, TEXT_DIM).eval()
    predictor = StreamingPredictor.for_model(model, config, TEXT_DIM)
    assert predictor.incremental
    worst = 0.0
    for item in items:
        predictor.reset()
        with torch.no_grad():
            offline = model(collate([item]))
        steps = session_steps(item, config.model.step_s)
        assert len(steps) == item["n_steps"]
        for t, features in enumerate(steps):
            out = predictor.step(features)
            assert out.step == t
            probs = torch.tensor(list(out.probs.values()))
            worst = max(worst, float((probs - offline.step_log_probs[0, t].exp()).abs().max()))
            assert out.weights is not None and offline.weights is not None
            worst = max(worst, float((torch.tensor(list(out.weights.values())) - offline.weights[0, t]).abs().max()))
    return worst


@pytest.mark.parametrize("variant", ["edu_emotionnet.yaml", "ablation_no_cmaa.yaml", "ablation_no_mie.yaml", "ablation_no_tfl.yaml"])
@pytest.mark.parametrize("video", ["embeddings", "pixels"])
def test_incremental_steps_equal_the_full_forward(variant: str, video: str) -> None:
    config = tiny_config(variant, video)
    items = [session_item(config, duration, seed) for seed, duration in enumerate((7.3, 5.0, 1.4))]
    assert _streamed_vs_offline(config, items) < 1e-5


def test_incremental_steps_equal_the_full_forward_at_paper_depth() -> None:
    """The paper's encoder shape (4 layers, 4 heads, strides 2x2, every frame) at a small width, 30 fps video."""
    config = tiny_config(model__layers=4, model__heads=4, model__d_model=32, model__audio__strides=[2, 2],
                         model__audio__kernel=5, model__step_s=0.5)
    items = [session_item(config, 6.2, seed, fps=30.0) for seed in (3, 4)]
    assert _streamed_vs_offline(config, items) < 1e-5


def test_late_element_is_an_error_and_empty_steps_are_fine() -> None:
    config = tiny_config()
    torch.manual_seed(0)
    predictor = StreamingPredictor.for_model(build_model(config.model, TEXT_DIM), config, TEXT_DIM)
    first = predictor.step(StepFeatures())  # nothing arrived: every modality missing, all weights 0
    assert first.weights is not None and sum(first.weights.values()) == 0
    predictor.step(StepFeatures())
    late = StepFeatures(tokens=torch.randn(1, TEXT_DIM), token_end_s=torch.tensor([0.5]), token_mask=torch.tensor([True]))
    with pytest.raises(LateInputError, match="step 2: a text element is timed in an earlier step"):
        predictor.step(late)


def test_a_token_heard_after_a_later_ending_one_is_delivered_in_its_step() -> None:
    config = tiny_config()
    item = session_item(config, 4.0, 0)
    item["token_end_s"][1:4] = torch.tensor([0.5, 2.6, 1.2])  # the third word ends before the second
    steps = session_steps(item, 1.0)
    delivered = torch.cat([s.token_end_s for s in steps if s.token_end_s is not None])
    assert torch.equal(delivered[1:4], torch.tensor([0.5, 2.6, 2.5]))  # heard in step 2, after the second: its middle


def test_growing_buffer_keeps_every_append_in_order() -> None:
    buffer = GrowingBuffer(1)
    parts = [torch.randn(2, n, 3) for n in (5, 0, 70, 1, 200)]
    for part in parts:
        buffer.append(part)
    assert torch.equal(buffer.view(), torch.cat(parts, dim=1))
