"""Streaming inference reproduces the offline causal outputs step by step."""

from __future__ import annotations

from pathlib import Path

import torch
from edu_emotionnet.checkpoint import load_trained
from edu_emotionnet.data import collate
from edu_emotionnet.streaming import StreamingPredictor, find_session, session_steps
from typer.testing import CliRunner

from edu_affect_data.cli import app


def test_streamed_steps_equal_the_offline_forward(trained_run: Path) -> None:
    predictor = StreamingPredictor(trained_run)
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


def test_predict_command_prints_every_step(trained_run: Path) -> None:
    item = find_session(trained_run, "test:1")
    result = CliRunner().invoke(app, ["predict", str(trained_run), item["session_id"]])
    assert result.exit_code == 0, result.output
    step_lines = [line for line in result.output.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert len(step_lines) == item["n_steps"]
    assert "ms" in step_lines[-1]


def test_unknown_session_is_a_clear_error(trained_run: Path) -> None:
    result = CliRunner().invoke(app, ["predict", str(trained_run), "no_such_session"])
    assert result.exit_code != 0
    assert "no_such_session" in str(result.exception)
