"""A session's outputs do not depend on the sessions it is batched with (every registered arch).

Sessions of 2-9 s are scored alone and together. Each one is given inputs past the end of its own
step grid, as real data has them (librosa's centred MFCC frames put one frame on the last sample;
a word's end time can fall after the cut): those belong to the session's last step whether the
batch's longest grid is longer or not, so the last step (the session prediction) must not move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from edu_emotionnet.config import TrainConfig, load_train_config
from edu_emotionnet.data import collate, session_datasets
from edu_emotionnet.model import build_model
from edu_emotionnet.registry import model_names

from tests.model.conftest import CONFIGS
from tests.model.planted import write_planted_dataset

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # A folder name of its own: `datasets` keys its Arrow cache on the folder name and card only.
    data = write_planted_dataset(
        tmp_path_factory.mktemp("varied") / "varied_lengths", {"train": 2, "validation": 2, "test": 6},
        duration_s=(1.5, 9.0),
    )
    return data, tmp_path_factory.mktemp("varied-cache")


def _config(varied: tuple[Path, Path], arch: str, **model: Any) -> TrainConfig:
    data, cache = varied
    overrides = {"data": str(data), "cache_dir": str(cache), "model.arch": arch, **{f"model.{k}": v for k, v in model.items()}}
    return load_train_config(CONFIGS / "tiny_cpu.yaml", overrides)


def _past_the_grid(item: dict[str, Any], step_s: float, audio_period_s: float) -> dict[str, Any]:
    """The item with audio frames, a frame and a word placed after the end of its step grid."""
    end = item["n_steps"] * step_s
    item = dict(item)
    if "audio" in item:
        extra = round(end / audio_period_s) + 3 - item["audio"].shape[0]
        if extra > 0:
            item["audio"] = torch.cat([item["audio"], torch.randn(extra, item["audio"].shape[1])])
        assert (item["audio"].shape[0] - 1) * audio_period_s >= end
    if "frame_times" in item and item["frame_times"].shape[0]:
        times = item["frame_times"].clone()
        times[-1] = end + 0.3
        item["frame_times"] = times
    if "token_end_s" in item:
        last_word = int(item["token_mask"].nonzero().max())
        ends = item["token_end_s"].clone()
        ends[last_word] = end + 0.5
        item["token_end_s"] = ends
    return item


def _check(config: TrainConfig) -> None:
    assert config.data is not None
    datasets, inputs = session_datasets(config.data, config.model, config.cache_dir)
    test = datasets["test"]
    items = [_past_the_grid(test[i], config.model.step_s, 0.010) for i in range(len(test))]
    lengths = sorted(item["n_steps"] for item in items)
    assert lengths[0] < lengths[-1] - 3  # a real spread of lengths in the batch
    torch.manual_seed(0)
    model = build_model(config.model, inputs).eval()
    with torch.no_grad():
        together = model(collate(items))
        for b, item in enumerate(items):
            alone = model(collate([item]))
            n = item["n_steps"]
            assert alone.step_log_probs.shape[1] == n
            session_gap = (together.session_log_probs[b].exp() - alone.session_log_probs[0].exp()).abs().max()
            step_gap = (together.step_log_probs[b, :n].exp() - alone.step_log_probs[0].exp()).abs().max()
            assert float(session_gap) <= TOLERANCE, (config.model.arch, item["session_id"], float(session_gap))
            assert float(step_gap) <= TOLERANCE, (config.model.arch, item["session_id"], float(step_gap))
            if together.weights is not None and alone.weights is not None:
                assert float((together.weights[b, :n] - alone.weights[0]).abs().max()) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("arch", model_names())
def test_scored_alone_or_batched_with_longer_sessions_alike(varied: tuple[Path, Path], arch: str) -> None:
    _check(_config(varied, arch))


@pytest.mark.parametrize("switches", [{"session_prediction": "mean"}, {"options": {"cmaa": False, "mie": False, "tfl": False}}])
def test_full_model_variants_are_batch_independent(varied: tuple[Path, Path], switches: dict[str, Any]) -> None:
    _check(_config(varied, "edu_emotionnet", **switches))
