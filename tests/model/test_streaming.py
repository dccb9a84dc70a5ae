"""Streaming inference reproduces the offline causal outputs step by step, through each model's own step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from edu_emotionnet import registry
from edu_emotionnet.attention import KeyValueCache
from edu_emotionnet.batch import LateInputError
from edu_emotionnet.checkpoint import BEST, CHECKPOINT_FORMAT, CheckpointFormatError, load_trained
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel
from edu_emotionnet.registry import model_names, register_model
from edu_emotionnet.streaming import (
    StepFeatures,
    StreamingPredictor,
    find_session,
    session_steps,
    stream_item,
)
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.helpers.model import planted_inputs
from tests.model.step_gru import STEP_GRU
from tests.model.streaming_items import EMBEDDING_DIM, TEXT_DIM, session_item, tiny_config

PERIOD_S = 0.010


@pytest.mark.slow
def test_streamed_steps_equal_the_offline_forward(trained_run: Path) -> None:
    predictor = StreamingPredictor(trained_run)
    assert predictor.incremental
    model = load_trained(trained_run).model
    for session in ("test:0", "test:5"):
        item = find_session(trained_run, session)
        streamed = stream_item(predictor, item)
        assert len(streamed) == item["n_steps"]
        with torch.no_grad():
            offline = model(collate([item]))
        for out in streamed:
            expected = offline.step_log_probs[0, out.step].exp()
            assert torch.allclose(torch.tensor(list(out.probs.values())), expected, atol=1e-5)
            assert (out.weights is not None and abs(sum(out.weights.values()) - 1) < 1e-5) or sum(out.weights.values()) == 0
            assert out.latency_ms > 0


@pytest.mark.slow
def test_predict_command_prints_every_step_and_how_it_streams(trained_run: Path) -> None:
    item = find_session(trained_run, "test:1")
    result = CliRunner().invoke(app, ["predict", str(trained_run), item["session_id"]])
    assert result.exit_code == 0, result.output
    step_lines = [line for line in result.output.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert len(step_lines) == item["n_steps"]
    assert "ms" in step_lines[-1]
    assert "streaming: incremental" in result.output and "inputs: audio mfcc, video frame_embeddings, text token_embeddings" in result.output


@pytest.mark.slow
def test_unknown_session_is_a_clear_error(trained_run: Path) -> None:
    result = CliRunner().invoke(app, ["predict", str(trained_run), "no_such_session"])
    assert result.exit_code != 0
    assert "no_such_session" in result.output and "Traceback" not in result.output  # one line (cli.errors)


def _streamed_vs_offline(config: TrainConfig, items: list[dict], seed: int = 0, *, incremental: bool = True) -> float:
    """Largest difference over every step of `items` between the stream and the full forward
    (step probabilities and, where the model has them, modality weights)."""
    torch.manual_seed(seed)
    model = build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    predictor = StreamingPredictor.for_model(model, config, incremental=incremental)
    assert predictor.incremental == (incremental and model.streams)
    worst = 0.0
    for item in items:
        with torch.no_grad():
            offline = model(collate([item]))
        streamed = stream_item(predictor, item)
        assert len(streamed) == item["n_steps"]
        for t, out in enumerate(streamed):
            assert out.step == t
            probs = torch.tensor(list(out.probs.values()))
            worst = max(worst, float((probs - offline.step_log_probs[0, t].exp()).abs().max()))
            if offline.weights is not None:
                assert out.weights is not None
                worst = max(worst, float((torch.tensor(list(out.weights.values())) - offline.weights[0, t]).abs().max()))
    return worst


def _items(config: TrainConfig, fps: float = 5.0) -> list[dict]:
    return [session_item(config, duration, seed, fps=fps) for seed, duration in enumerate((7.3, 5.0, 1.4))]


@pytest.mark.parametrize("variant", ["edu_emotionnet.yaml", "ablation_no_cmaa.yaml", "ablation_no_mie.yaml", "ablation_no_tfl.yaml"])
@pytest.mark.parametrize("video", ["embeddings", "pixels"])
def test_each_step_equals_the_full_forward(variant: str, video: str) -> None:
    config = tiny_config(variant, video)
    assert _streamed_vs_offline(config, _items(config)) < 1e-5


#: Every built-in arch, the full model included, through its own `step`.
BUILT_IN = sorted(registry.BUILTINS)


@pytest.mark.parametrize("arch", BUILT_IN)
@pytest.mark.parametrize("window", [None, 2.5])
def test_every_built_in_model_streams_equal_to_its_full_forward(arch: str, window: float | None) -> None:
    config = tiny_config(model__arch=arch, model__attention_window_s=window)
    items = _items(config)
    torch.manual_seed(0)
    assert build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).streams, arch
    assert _streamed_vs_offline(config, items) < 1e-5, arch


def test_steps_equal_the_full_forward_at_paper_depth_with_and_without_the_window() -> None:
    """The paper's encoder shape (4 layers, 4 heads, strides 2x2, every frame) at a small width, 30 fps video."""
    for window in (None, 1.5):
        config = tiny_config(model__layers=4, model__heads=4, model__d_model=32, model__audio__strides=[2, 2],
                             model__audio__kernel=5, model__step_s=0.5, model__attention_window_s=window)
        items = [session_item(config, 6.2, seed, fps=30.0) for seed in (3, 4)]
        assert _streamed_vs_offline(config, items) < 1e-5


def test_the_window_bounds_what_a_stream_keeps_and_what_a_step_sees() -> None:
    """With a window every cache stays bounded over a long session, and the output at step t does not
    depend on inputs older than the window (full forward: the same model, the same rule)."""
    config = tiny_config(model__attention_window_s=2.0)
    torch.manual_seed(0)
    model = build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    item = session_item(config, 20.0, 7)
    state = model.init_state()
    predictor = StreamingPredictor.for_model(model, config)
    kept = []
    for features in session_steps(item, 1.0, PERIOD_S):
        chunk = predictor._chunk(features)
        with torch.no_grad():
            model.step(chunk, state)
        caches = [slot for slot in state.slots() if isinstance(slot, KeyValueCache)]
        kept.append(max(len(cache.positions) for cache in caches))
    assert max(kept[5:]) == max(kept[12:])  # flat once the window is full
    # Changing only the audio of the first second changes nothing from step 5 on (every attention is windowed;
    # the audio convolutions reach 0.2 s back, CMAA one more step).
    changed = dict(item, audio=item["audio"].clone())
    changed["audio"][:100] = torch.randn(100, changed["audio"].shape[1])
    with torch.no_grad():
        a, b = model(collate([item])), model(collate([changed]))
    assert not torch.allclose(a.step_log_probs[0, 0], b.step_log_probs[0, 0])
    # TFL carries y^_{t-1} from the first step on, so the full model is exactly unchanged only without it.
    no_tfl = tiny_config("ablation_no_tfl.yaml", model__attention_window_s=2.0)
    torch.manual_seed(0)
    model = build_model(no_tfl.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    with torch.no_grad():
        a, b = model(collate([item])), model(collate([changed]))
    assert torch.allclose(a.step_log_probs[0, 5:], b.step_log_probs[0, 5:], atol=1e-6)
    assert not torch.allclose(a.step_log_probs[0, 0], b.step_log_probs[0, 0])


def test_a_model_without_a_step_streams_by_prefix_reruns_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.MODELS, "_registered", dict(registry.MODELS._registered))
    register_model(STEP_GRU)
    assert "step_gru" in model_names()
    config = tiny_config(model__arch="step_gru")
    torch.manual_seed(0)
    model = build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    assert not model.streams
    with pytest.raises(NotImplementedError, match="no step-wise form"):
        model.init_state()
    predictor = StreamingPredictor.for_model(model, config)
    assert not predictor.incremental and predictor.mode.startswith("prefix re-run: StepGRU has no step-wise form")
    assert _streamed_vs_offline(config, _items(config)[:2]) < 1e-5


def test_late_element_is_an_error_and_empty_steps_are_fine() -> None:
    config = tiny_config()
    torch.manual_seed(0)
    predictor = StreamingPredictor.for_model(build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)), config)
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
    steps = session_steps(item, 1.0, PERIOD_S)
    delivered = torch.cat([s.token_end_s for s in steps if s.token_end_s is not None])
    assert torch.equal(delivered[1:4], torch.tensor([0.5, 2.6, 2.5]))  # heard in step 2, after the second: its middle


# ------------------------------------------------------------------------------ checkpoints
#: `checkpoint._FORMAT_1_NAMES` read backwards: what `nn.TransformerEncoder` called each weight.
_TO_FORMAT_1 = (
    (".qkv.weight", ".self_attn.in_proj_weight"), (".qkv.bias", ".self_attn.in_proj_bias"),
    (".out.weight", ".self_attn.out_proj.weight"), (".out.bias", ".self_attn.out_proj.bias"),
    (".ff.0.", ".linear1."), (".ff.3.", ".linear2."), (".norm_attention.", ".norm1."), (".norm_ff.", ".norm2."),
)


def _format_1(model: AffectModel) -> dict[str, torch.Tensor]:
    """The model's weights under format 1's names (`context.stack.layers.N.self_attn.in_proj_weight`, ...)."""
    import re

    out = {}
    for name, value in model.state_dict().items():
        found = re.search(r"\.layers\.(\d+)(\..*)$", name)
        if found and any(found.group(2).startswith(new) for new, _ in _TO_FORMAT_1):
            head = name[: found.start()]
            tail = found.group(2)
            for new, old in _TO_FORMAT_1:
                if tail.startswith(new):
                    tail = old + tail[len(new):]
                    break
            name = f"{head}.stack.layers.{found.group(1)}{tail}"
        out[name] = value
    return out


def test_a_format_1_checkpoint_loads_through_the_name_remap_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    config = tiny_config()
    torch.manual_seed(0)
    model = build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    old = _format_1(model)
    assert any(".stack.layers.0.self_attn.in_proj_weight" in name for name in old)
    torch.save({"model": old, "config": config.model_dump(mode="json"), "text_dim": TEXT_DIM, "epoch": 3}, tmp_path / BEST)
    loaded = load_trained(tmp_path)
    assert loaded.inputs["audio"].width == 40 and loaded.inputs["audio"].period_s == 0.010 and loaded.inputs.width("text") == TEXT_DIM
    item = session_item(config, 4.0, 1)
    with torch.no_grad():
        assert torch.equal(loaded.model(collate([item])).step_log_probs, model(collate([item])).step_log_probs)
    torch.save({"format": CHECKPOINT_FORMAT + 1, "model": {}, "config": {}}, tmp_path / BEST)
    with pytest.raises(CheckpointFormatError, match=rf"checkpoint format {CHECKPOINT_FORMAT + 1} was written by a newer"):
        load_trained(tmp_path)
