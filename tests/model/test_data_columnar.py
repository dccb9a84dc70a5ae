"""Batches read a batch at a time from Arrow equal those built row by row through `datasets`' torch formatter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np
import pyarrow as pa
import pytest
import torch
from datasets import Array2D, Dataset, Features, Sequence, Value
from edu_emotionnet.batch import Batch
from edu_emotionnet.columns import ArrowRows
from edu_emotionnet.config import ModelConfig, TrainConfig, VideoEncoderConfig
from edu_emotionnet.data import (
    SessionDataset,
    causal_token_ends,
    collate,
    n_steps_of,
    session_datasets,
)
from torch.utils.data import DataLoader

from tests.features.fake_build import published_build

MODALITIES = ("audio", "video", "text")


def per_row_items(dataset: SessionDataset, indices: list[int]) -> list[dict]:
    """Items as the loader made them before batch reads (the reference): each row through
    `with_format("torch")`, then the item code of that loader."""
    columns = dataset.rows.column_names
    rows = dataset.rows.with_format("torch", columns=[c for c in columns if c != "session_id"], output_all_columns=True)
    inputs, modalities = dataset.inputs, dataset.modalities
    items = []
    for index in indices:
        row = rows[index]
        item = {"session_id": row["session_id"], "label": int(row["label"]),
                "n_steps": n_steps_of(float(row["end_s"] - row["start_s"]), dataset.step_s)}
        if "audio" in modalities:
            item["audio"] = row[inputs["audio"].column].float().reshape(-1, inputs["audio"].width)
        if "video" in modalities and dataset.video_input == "embeddings":
            item["frame_embeddings"] = row[inputs["video"].column].to(torch.float16).reshape(-1, inputs["video"].width)
        elif "video" in modalities:
            frames = dataset.frame_cache.frames(index) if dataset.frame_cache is not None else dataset.pixels[index]["frames"]
            item["frames"] = frames if isinstance(frames, torch.Tensor) else torch.zeros(0, 3, 1, 1, dtype=torch.uint8)
        if "video" in modalities:
            item["frame_times"] = row["frame_times"].float().reshape(-1)
            item["frame_available"] = row["frame_available"].bool().reshape(-1)
        if "text" in modalities:
            item["tokens"] = row[inputs["text"].column]
            mask = (row["attention_mask"] > 0) & (row["token_start_s"] >= 0) & (row["token_end_s"] >= 0)
            item["token_end_s"] = causal_token_ends(row["token_end_s"].float(), mask)
            item["token_mask"] = mask
        items.append(item)
    return items


def assert_same_items(new: list[dict], old: list[dict]) -> None:
    for a, b in zip(new, old, strict=True):
        assert a.keys() == b.keys()
        for key, value in b.items():
            if isinstance(value, torch.Tensor):
                assert a[key].dtype == value.dtype and a[key].shape == value.shape and torch.equal(a[key], value), key
            else:
                assert a[key] == value, key


def assert_same_batch(new: Batch, old: Batch) -> None:
    for f in fields(Batch):
        a, b = getattr(new, f.name), getattr(old, f.name)
        if isinstance(b, torch.Tensor):
            assert isinstance(a, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, f.name
            assert torch.equal(a, b), f.name
        else:
            assert a == b, f.name


def assert_loader_matches_per_row_reads(dataset: SessionDataset, batch_size: int) -> int:
    """Every batch of a shuffled DataLoader over `dataset` equals collate of the per-row items."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, collate_fn=collate)
    batches = 0
    for start, batch in zip(range(0, len(order), batch_size), loader, strict=True):
        indices = order[start : start + batch_size]
        reference = per_row_items(dataset, indices)
        assert_same_batch(batch, collate(reference))
        assert_same_items(dataset.__getitems__(indices), reference)
        assert_same_batch(collate(list(dataset.__getitems__(indices))), batch)  # items padded one by one
        batches += 1
    return batches


@pytest.mark.slow
def test_batches_of_a_published_build_equal_per_row_reads(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The real pipeline's columns (MFCC, frame times and availability, float16 token embeddings, int
    masks); its video is JPEG frames, read from the down-scaled frame cache as the CPU configs do."""
    data = published_build(tmp_path_factory.getbasetemp()).dataset
    model = ModelConfig(video=VideoEncoderConfig(input="pixels", backbone="small_cnn", frame_size=32))
    datasets, _ = session_datasets(data, model, tmp_path_factory.mktemp("frame-cache"), modalities=MODALITIES)
    for split in ("train", "test"):
        assert assert_loader_matches_per_row_reads(datasets[split], batch_size=4) >= 2
    item = datasets["train"][1]
    assert item["audio"].dtype == torch.float32 and item["tokens"].dtype == torch.float32


@pytest.mark.parametrize("video", ["embeddings", "pixels"])
def test_batches_of_the_planted_dataset_equal_per_row_reads(make_config: Callable[..., TrainConfig], video: str) -> None:
    """The planted set: float16 embeddings and tokens, fixed-size token columns, JPEG frames (224 px:
    decoded by `datasets`), sessions of different lengths in one batch."""
    config = make_config()
    model = ModelConfig(video=VideoEncoderConfig(input="embeddings") if video == "embeddings" else
                        VideoEncoderConfig(input="pixels", backbone="small_cnn", frame_size=224))
    datasets, _ = session_datasets(config.data, model, config.cache_dir)
    assert assert_loader_matches_per_row_reads(datasets["validation"], batch_size=5) == 4


def test_in_memory_batches_reuse_the_kept_items(make_config: Callable[..., TrainConfig]) -> None:
    config = make_config()
    datasets, _ = session_datasets(config.data, ModelConfig(video=config.model.video), config.cache_dir, in_memory=True)
    train = datasets["train"]
    first = train.__getitems__([3, 1, 3])
    assert first[0] is first[2] and train.memory is not None and set(train.memory) == {1, 3}
    again = train.__getitems__([1, 2])
    assert again[0] is first[1] and set(train.memory) == {1, 2, 3}
    assert_same_batch(collate(again), collate(per_row_items(train, [1, 2])))


def test_arrow_rows_cut_every_column_kind_like_the_formatter() -> None:
    """Scalars, sequences (variable and fixed length), Array2D with a variable first dimension (some
    empty), float16 kept or widened; rows re-ordered across chunks; against `with_format("torch")`."""
    features = Features({
        "label": Value("int8"),
        "start_s": Value("float64"),
        "times": Sequence(Value("float32")),
        "mask": Sequence(Value("int8"), length=3),
        "flags": Sequence(Value("bool")),
        "matrix": Array2D(shape=(None, 2), dtype="float16"),
        "fixed": Array2D(shape=(2, 3), dtype="float32"),
    })
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate((2, 0, 3, 1)):
        rows.append({
            "label": i, "start_s": 0.1 * i, "times": rng.random(n).astype(np.float32).tolist(),
            "mask": [1, 0, i % 2], "flags": [bool(k % 2) for k in range(n)],
            "matrix": rng.standard_normal((n, 2)).astype(np.float16), "fixed": rng.random((2, 3)).astype(np.float32),
        })
    dataset = Dataset.from_list(rows, features=features)
    table = pa.concat_tables([dataset.data.table.slice(0, 1), dataset.data.table.slice(1)])  # two chunks
    order = [2, 0, 3, 1]
    taken = ArrowRows(table, list(features)).take(order)
    formatted = dataset.with_format("torch")
    for name in features:
        for k, index in enumerate(order):
            expected = formatted[index][name]
            got = torch.from_numpy(np.array(taken[name].row(k)))
            assert got.dtype == expected.dtype and got.shape == expected.shape and torch.equal(got, expected), (name, index)
    empty = ArrowRows(table, ["matrix"]).take([1])["matrix"]  # no row of the batch has an element
    assert empty.values.shape == (1, 1, 2) and empty.row(0).shape == formatted[1]["matrix"].shape == (0, 2)
    kept = ArrowRows(table, ["matrix"]).take([2], keep_float16=["matrix"])["matrix"].row(0)
    assert kept.dtype == np.float16 and np.array_equal(kept, np.asarray(rows[2]["matrix"]))
    sliced = pa.table({"times": table.column("times").combine_chunks().slice(1, 2)})  # an offset into its values
    taken_times = ArrowRows(sliced, ["times"]).take([1, 0])["times"]
    assert [taken_times.row(k).tolist() for k in (0, 1)] == [
        formatted[i]["times"].tolist() for i in (2, 1)
    ]


@pytest.mark.slow
def test_loader_workers_started_by_spawn_give_the_same_batches(make_config: Callable[..., TrainConfig]) -> None:
    """A worker gets the dataset pickled (without the parent's views of its memory map) and reads its own."""
    config = make_config()
    train = session_datasets(config.data, ModelConfig(video=config.model.video), config.cache_dir)[0]["train"]
    train[0]  # the parent has read: its column views exist and must not travel
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(1)).tolist()
    here = DataLoader(train, batch_size=8, sampler=order, collate_fn=collate)
    workers = DataLoader(train, batch_size=8, sampler=order, collate_fn=collate, num_workers=2, multiprocessing_context="spawn")
    for a, b in zip(here, workers, strict=True):
        assert_same_batch(b, a)
