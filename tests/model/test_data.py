"""The session dataset: what an item holds per video input, and that keeping items in memory changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from edu_emotionnet.config import ModelConfig, TrainConfig, VideoEncoderConfig
from edu_emotionnet.data import (
    DatasetFormatError,
    collate,
    load_splits,
    model_columns,
    session_datasets,
)
from edu_emotionnet.inputs import InputsConfig

from tests.model.planted import EMBEDDING_SIGNAL_DIMS, planted_embeddings, write_planted_dataset

MODALITIES = ("audio", "video", "text")
PIXELS = VideoEncoderConfig(input="pixels", backbone="small_cnn", frame_size=32)


def test_in_memory_items_equal_fresh_reads_and_are_kept(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config()
    for video in (config.model.video, PIXELS):
        fresh, _ = session_datasets(config.data, ModelConfig(video=video), config.cache_dir)
        kept, _ = session_datasets(config.data, ModelConfig(video=video), config.cache_dir, in_memory=True)
        for index in (0, 3):
            first, read = kept["train"][index], fresh["train"][index]
            assert first.keys() == read.keys()
            for key, value in read.items():
                assert torch.equal(first[key], value) if isinstance(value, torch.Tensor) else first[key] == value, key
            assert kept["train"][index] is first  # the second read is the stored item
        assert fresh["train"].memory is None


def test_embeddings_input_reads_the_stored_vectors_and_never_a_pixel(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config()
    assert config.model.video.input == "embeddings"
    datasets, _ = session_datasets(config.data, ModelConfig(video=config.model.video), config.cache_dir)
    train = datasets["train"]
    assert "frames" not in train.rows.column_names and "frame_embeddings" in train.rows.column_names
    assert train.frame_cache is None
    item = train[5]
    assert "frames" not in item
    n = item["frame_times"].shape[0]
    assert item["frame_embeddings"].shape == (n, 1280) and item["frame_embeddings"].dtype == torch.float16
    # Exactly what was planted for row 5 of train (label 5 % 4 = 1), read back through load_dataset.
    expected = planted_embeddings(0, "train", 5, n, 1, 0.5, 1280)
    assert np.array_equal(item["frame_embeddings"].numpy(), expected)
    assert float(item["frame_embeddings"][:, EMBEDDING_SIGNAL_DIMS : 2 * EMBEDDING_SIGNAL_DIMS].float().mean()) > 1.0


def test_collate_pads_embeddings_with_the_frame_mask(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config()
    datasets, _ = session_datasets(config.data, ModelConfig(video=config.model.video), config.cache_dir)
    items = [datasets["train"][i] for i in range(4)]
    batch = collate(items)
    longest = max(it["frame_times"].shape[0] for it in items)
    assert batch.frames is None
    assert batch.frame_embeddings is not None and batch.frame_mask is not None
    assert batch.frame_embeddings.shape == (4, longest, 1280)
    for row, item in enumerate(items):
        n = item["frame_times"].shape[0]
        assert torch.equal(batch.frame_embeddings[row, :n], item["frame_embeddings"])
        assert not batch.frame_mask[row, n:].any() and (batch.frame_embeddings[row, n:] == 0).all()


def test_a_dataset_of_embeddings_only_loads_for_embeddings_and_names_the_fix_for_pixels(tmp_path: Path) -> None:
    data = write_planted_dataset(tmp_path / "embeddings_only", {"train": 4, "validation": 4, "test": 4}, frames=False)
    assert "frames" not in load_splits(data, model_columns(MODALITIES, InputsConfig(), "embeddings"))["train"].features
    datasets, _ = session_datasets(data, ModelConfig(video=VideoEncoderConfig()), None)
    assert datasets["test"][0]["frame_embeddings"].shape[1] == 1280
    with pytest.raises(DatasetFormatError, match=r"missing column\(s\) \['frames'\].*model.video.input=embeddings"):
        session_datasets(data, ModelConfig(video=PIXELS), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # refused before any frame cache


def test_embedding_width_must_match_the_config(tmp_path: Path) -> None:
    data = write_planted_dataset(tmp_path / "wide", {"train": 2, "validation": 2, "test": 2}, frames=False, embedding_dim=64)
    with pytest.raises(DatasetFormatError, match=r"64-dim but model.video.embedding_dim is 1280; set --set model.video.embedding_dim=64"):
        session_datasets(data, ModelConfig(video=VideoEncoderConfig()), None)
    datasets, _ = session_datasets(data, ModelConfig(video=VideoEncoderConfig(embedding_dim=64)), None)
    assert datasets["train"][0]["frame_embeddings"].shape[1] == 64
    # A model that does not read video does not care.
    session_datasets(data, ModelConfig(), None, modalities=("audio", "text"))


def test_token_end_times_never_go_back_in_time() -> None:
    import torch
    from edu_emotionnet.data import causal_token_ends

    ends = torch.tensor([-1.0, 1.0, 3.0, 2.0, 2.5, 4.0, -1.0])
    mask = ends >= 0
    assert causal_token_ends(ends, mask).tolist() == [-1.0, 1.0, 3.0, 3.0, 3.0, 4.0, -1.0]
