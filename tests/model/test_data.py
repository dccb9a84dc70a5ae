"""The session dataset: what an item holds, and that keeping items in memory changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import torch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import session_datasets


def test_in_memory_items_equal_fresh_reads_and_are_kept(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config()
    modalities = ("audio", "video", "text")
    fresh, _ = session_datasets(config.data, modalities, 1.0, 32, config.cache_dir)
    kept, _ = session_datasets(config.data, modalities, 1.0, 32, config.cache_dir, in_memory=True)
    for index in (0, 3):
        first, read = kept["train"][index], fresh["train"][index]
        assert first.keys() == read.keys()
        for key, value in read.items():
            assert torch.equal(first[key], value) if isinstance(value, torch.Tensor) else first[key] == value, key
        assert kept["train"][index] is first  # the second read is the stored item
    assert fresh["train"].memory is None
