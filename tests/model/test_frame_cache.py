"""The frame cache: decoded once, equal to a direct decode, keyed by the dataset's files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from datasets import load_dataset
from edu_emotionnet.frame_cache import build_frame_cache, cache_folder


def test_cache_matches_direct_decoding_and_is_reused(planted_dir: Path, tmp_path: Path) -> None:
    split = load_dataset(str(planted_dir))["validation"]
    folder = cache_folder(tmp_path, planted_dir, 32)
    cache = build_frame_cache(split, folder, "validation", 32)
    row = 3
    frames = cache.frames(row)
    assert frames.shape == (len(split[row]["frame_times"]), 3, 32, 32)
    direct = np.asarray(split[row]["frames"][2].convert("RGB"))
    direct = cv2.resize(direct, (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[2].permute(1, 2, 0).numpy().astype(int) - direct.astype(int)).mean() < 12
    stamp = (folder / "validation.pixels.npy").stat().st_mtime_ns
    build_frame_cache(split, folder, "validation", 32)
    assert (folder / "validation.pixels.npy").stat().st_mtime_ns == stamp


def test_cache_folder_follows_the_data_files_not_hidden_ones(tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    (data / "data").mkdir(parents=True)
    shard = data / "data" / "train-00000-of-00001.parquet"
    shard.write_bytes(b"one")
    first = cache_folder(tmp_path / "cache", data, 32)
    assert first.name.startswith("frames-") and first.name.endswith("-32px")
    (data / ".cache" / "huggingface").mkdir(parents=True)  # a hub client's bookkeeping: not the dataset
    (data / ".cache" / "huggingface" / "lock").write_bytes(b"x")
    assert cache_folder(tmp_path / "cache", data, 32) == first
    os.utime(shard, ns=(1, 1))
    assert cache_folder(tmp_path / "cache", data, 32) != first


def test_embeddings_runs_build_no_frame_cache(planted_dir: Path, tmp_path: Path) -> None:
    from edu_emotionnet.config import ModelConfig, VideoEncoderConfig
    from edu_emotionnet.data import session_datasets

    datasets, _ = session_datasets(planted_dir, ModelConfig(video=VideoEncoderConfig(frame_size=32)), tmp_path)
    assert all(split.frame_cache is None for split in datasets.values())
    assert list(tmp_path.iterdir()) == []  # nothing decoded, nothing written
    pixels, _ = session_datasets(planted_dir, ModelConfig(video=VideoEncoderConfig(input="pixels", frame_size=32)), tmp_path)
    assert pixels["test"].frame_cache is not None and len(list(tmp_path.iterdir())) == 1
