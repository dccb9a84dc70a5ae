"""Shapes, masks, causality and the ablation switches of every architecture."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from edu_emotionnet.batch import Batch, pool_to_grid
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate, session_datasets
from edu_emotionnet.model import EduEmotionNet, build_model
from edu_emotionnet.registry import model_names

from tests.helpers.model import first_batch, seeded_model

ARCHS = list(model_names())


@pytest.fixture(scope="module")
def batch(make_config: Callable[..., TrainConfig]) -> Batch:
    return first_batch(make_config(), 4, ("audio", "video", "text"))


#: A pixel video branch small enough for CPU tests (the shipped configs read frame embeddings).
SMALL_PIXELS = {"input": "pixels", "backbone": "small_cnn", "frame_size": 32, "cnn_channels": 4}


@pytest.fixture(scope="module")
def pixel_batch(make_config: Callable[..., TrainConfig]) -> Batch:
    return first_batch(make_config(model__video=SMALL_PIXELS), 4, ("audio", "video", "text"))


def _model(make_config: Callable[..., TrainConfig], **model_overrides: object) -> EduEmotionNet:
    return seeded_model(make_config, **model_overrides).eval()  # type: ignore[return-value]


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_have_grid_shape_and_are_distributions(arch: str, make_config, batch: Batch) -> None:
    model = _model(make_config, arch=arch)
    out = model(batch)
    steps = int(batch.n_steps.max())
    assert out.step_log_probs.shape == (4, steps, 4)
    assert torch.allclose(out.session_log_probs.exp().sum(-1), torch.ones(4), atol=1e-5)
    assert torch.isfinite(out.step_log_probs).all()
    assert torch.isfinite(model.loss(out, batch.labels))


@pytest.mark.parametrize("arch", ARCHS)
def test_missing_and_fully_masked_sessions_stay_finite(arch: str, make_config, batch: Batch) -> None:
    model = _model(make_config, arch=arch)
    no_video_text = batch.masked(frame_mask=torch.zeros_like(batch.frame_mask), token_mask=torch.zeros_like(batch.token_mask))
    nothing = no_video_text.masked(audio_mask=torch.zeros_like(batch.audio_mask))
    for masked in (no_video_text, nothing):
        out = model(masked)
        assert torch.isfinite(out.step_log_probs).all()
        loss = model.loss(out, batch.labels)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        model.zero_grad()


def test_missing_modality_gets_weight_zero(make_config, batch: Batch) -> None:
    model = _model(make_config)
    out = model(batch.masked(frame_mask=torch.zeros_like(batch.frame_mask)))
    weights, valid = out.weights, batch.step_valid()
    assert weights is not None
    assert (weights[..., 1] == 0).all()  # video
    sums = weights.sum(-1)[valid]
    has_any = sums > 0
    assert torch.allclose(sums[has_any], torch.ones_like(sums[has_any]), atol=1e-5)


def _change_after(batch: Batch, cut_s: float) -> Batch:
    """The same batch with every input later than `cut_s` replaced by different values."""
    gen = torch.Generator().manual_seed(1)
    audio = batch.audio.clone()
    audio[:, int(cut_s * 100) :] = torch.randn(audio[:, int(cut_s * 100) :].shape, generator=gen) * 3
    frames = batch.frame_embeddings.clone()
    late = batch.frame_times >= cut_s
    frames[late] = (torch.rand(frames[late].shape, generator=gen) * 3).to(frames.dtype)
    tokens = batch.tokens.clone()
    late_tokens = batch.token_end_s >= cut_s
    tokens[late_tokens] = torch.randn(tokens[late_tokens].shape, generator=gen) * 3
    return Batch(**{**batch.__dict__, "audio": audio, "frame_embeddings": frames, "tokens": tokens})


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_at_step_t_ignore_later_inputs(arch: str, make_config, batch: Batch) -> None:
    model = _model(make_config, arch=arch)
    cut = 2.0  # steps 0 and 1 end at 2.0 s
    before, after = model(batch), model(_change_after(batch, cut))
    assert torch.allclose(before.step_log_probs[:, :2], after.step_log_probs[:, :2], atol=1e-5)
    assert not torch.allclose(before.step_log_probs[:, 2:], after.step_log_probs[:, 2:], atol=1e-3)  # the test can fail


def test_no_cmaa_feeds_h_as_g(make_config, batch: Batch) -> None:
    full, ablated = _model(make_config), _model(make_config, options__cmaa=False)
    assert full.align is not None and ablated.align is None
    seen = {}
    ablated.importance.register_forward_hook(lambda mod, args, out: seen.update(h=args[0], g=args[1]))
    ablated(batch)
    assert all(torch.equal(seen["h"][m], seen["g"][m]) for m in ablated.modalities)


def test_no_mie_weights_are_equal_over_available(make_config, batch: Batch) -> None:
    model = _model(make_config, options__mie=False)
    assert model.importance.gates is None
    out = model(batch.masked(frame_mask=torch.zeros_like(batch.frame_mask)))
    avail = out.weights[batch.step_valid()]
    both = (avail[:, 0] > 0) & (avail[:, 2] > 0)
    assert torch.allclose(avail[both][:, [0, 2]], torch.full_like(avail[both][:, [0, 2]], 0.5))


def test_no_tfl_removes_feedback_and_kl(make_config, batch: Batch) -> None:
    full, ablated = _model(make_config), _model(make_config, options__tfl=False)
    assert full.kl_weight > 0 and ablated.kl_weight == 0
    z = torch.randn(2, 5, 32)
    changed = z.clone()
    changed[:, 1] += 5.0  # only step 1's fused feature changes
    for tfl, depends in ((full.feedback, True), (ablated.feedback, False)):
        y, y_changed = tfl(z), tfl(changed)
        assert torch.allclose(y[:, 0], y_changed[:, 0])
        assert not torch.allclose(y[:, 1], y_changed[:, 1])
        assert torch.allclose(y[:, 2:], y_changed[:, 2:]) is not depends  # feedback carries step 1 forward


def test_pool_to_grid_averages_into_the_step_of_each_time() -> None:
    features = torch.tensor([[[1.0], [3.0], [10.0], [7.0]]])
    times = torch.tensor([[0.1, 0.9, 1.5, 9.0]])  # 9.0 s lies past a 3-step grid: last step
    valid = torch.tensor([[True, True, False, True]])
    pooled, avail = pool_to_grid(features, times, valid, 1.0, 3)
    assert pooled[0, :, 0].tolist() == [2.0, 0.0, 7.0]
    assert avail[0].tolist() == [True, False, True]


def test_resnet_backbone_reads_full_size_frames_decoded_by_datasets(make_config) -> None:
    config = make_config(model__video={"input": "pixels", "backbone": "resnet", "frame_size": 224, "resnet_depths": [1], "resnet_hidden_sizes": [8]})
    datasets, inputs = session_datasets(config.data, config.model, None, modalities=("audio", "video", "text"))
    assert datasets["test"].frame_cache is None  # 224 px: no cache, frames decoded from the JPEGs
    batch = collate([datasets["test"][i] for i in range(2)])
    assert batch.frames.shape[-2:] == (224, 224)
    model = build_model(config.model, inputs).eval()
    assert torch.isfinite(model(batch).step_log_probs).all()


def test_frame_stride_encodes_every_kth_frame_from_the_first(make_config, pixel_batch: Batch) -> None:
    batch = pixel_batch
    model = _model(make_config, arch="visual_only", video={**SMALL_PIXELS, "frame_stride": 2})
    gen = torch.Generator().manual_seed(2)

    def scrambled(parity: int) -> Batch:
        frames = batch.frames.clone()
        frames[:, parity::2] = torch.randint(0, 255, frames[:, parity::2].shape, generator=gen, dtype=torch.uint8)
        return Batch(**{**batch.__dict__, "frames": frames})

    before = model(batch).step_log_probs
    assert torch.allclose(before, model(scrambled(1)).step_log_probs)  # odd frames are skipped
    assert not torch.allclose(before, model(scrambled(0)).step_log_probs, atol=1e-3)
