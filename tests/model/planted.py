"""A small dataset folder in exactly the published format, with a planted class signal per modality.

Each modality carries the label weakly and independently (noise differs per modality), so each
unimodal model learns something and fusion can learn more. Video is stored both ways
(`features.extractors.frames.store: both`): JPEG `frames` and float16 `frame_embeddings` (1280-d like
EfficientNet-Lite0's), both carrying the label; `frames=False` writes `store: embeddings`. Written
like the publish stage does: Parquet with the features' real Arrow types
(`features.schema.rows_to_table`) plus a README whose YAML `configs` names the splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from edu_emotionnet.config import CLASSES

N_TOKENS = 128
FPS = 5.0
#: Width of the planted frame embeddings: EfficientNet-Lite0's pooled features, the default embedder.
EMBEDDING_DIM = 1280
#: Embedding dimensions that carry one class's signal (class k: dims k*32 .. k*32+31).
EMBEDDING_SIGNAL_DIMS = 32
#: One RGB tint per class for the planted video signal.
TINTS = np.array([[60, -30, -30], [-30, 60, -30], [-30, -30, 60], [40, 40, -60]], dtype=np.float32)


def dataset_features(text_dim: int, embedding_dim: int = EMBEDDING_DIM, frames: bool = True):  # type: ignore[no-untyped-def]
    """The published schema itself (edu_affect_data.stages.features.schema), so planted data obeys the contract,
    with `frame_embeddings` after `frame_available` and without `frames` when `frames` is False."""
    from datasets import Array2D, Features

    from edu_affect_data.config import load_config
    from edu_affect_data.stages.features.schema import dataset_features as published_features

    config = load_config(None, {"features.extractors.text": {"max_tokens": N_TOKENS, "dtype": "float16"}})
    columns = {}
    for name, feature in published_features(config, hidden_size=text_dim).items():
        if name == "frame_embeddings" or (name == "frames" and not frames):
            continue
        columns[name] = feature
        if name == "frame_available":
            columns["frame_embeddings"] = Array2D(shape=(None, embedding_dim), dtype="float16")
    return Features(columns)


def planted_embeddings(seed: int, split: str, index: int, n_frames: int, label: int, signal: float, dim: int) -> np.ndarray:
    """(n_frames, dim) float16 frame embeddings, non-negative like pooled CNN features, with the class signal.

    Drawn from their own generator (seed, split, row), so adding them leaves every other planted
    value as it was.
    """
    rng = np.random.default_rng([seed, sum(map(ord, split)), index])
    embeddings = np.abs(rng.normal(0, 1, (n_frames, dim))).astype(np.float32)
    start = (label * EMBEDDING_SIGNAL_DIMS) % dim
    embeddings[:, start : start + EMBEDDING_SIGNAL_DIMS] += signal
    return embeddings.astype(np.float16)


def _session(
    rng: np.random.Generator, index: int, split: str, label: int, text_dim: int, signal: float, duration_s: tuple[float, float],
    *, seed: int = 0, fps: float = FPS, embedding_dim: int = EMBEDDING_DIM, frames: bool = True,
) -> dict:
    import cv2

    duration = float(rng.uniform(*duration_s))
    start = float(rng.uniform(0, 100))
    n_audio = round(duration * 100)
    mfcc = rng.normal(0, 1, (n_audio, 40)).astype(np.float32)
    mfcc[:, label * 8 : label * 8 + 8] += signal
    frame_times = np.arange(0, duration, 1 / fps, dtype=np.float32)
    jpegs = []
    for _ in frame_times if frames else ():
        small = rng.normal(128, 50, (28, 28, 3)).astype(np.float32) + signal * 0.6 * TINTS[label]
        image = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (224, 224), interpolation=cv2.INTER_NEAREST)
        jpegs.append({"bytes": cv2.imencode(".jpg", image)[1].tobytes(), "path": None})
    available = rng.random(len(frame_times)) > 0.1
    n_words = int(duration * 2)
    word_ends = np.sort(rng.uniform(0.2, duration, n_words)).astype(np.float32)
    starts = np.full(N_TOKENS, -1, np.float32)
    ends = np.full(N_TOKENS, -1, np.float32)
    starts[1 : n_words + 1] = np.maximum(word_ends - 0.2, 0)
    ends[1 : n_words + 1] = word_ends
    mask = np.zeros(N_TOKENS, np.int8)
    mask[: n_words + 2] = 1  # [CLS] words [SEP]
    direction = np.zeros(text_dim, np.float32)
    direction[label * 4 : label * 4 + 4] = 1.0
    embeddings = rng.normal(0, 1, (N_TOKENS, text_dim)).astype(np.float32)
    embeddings[1 : n_words + 1] += signal * direction
    embeddings[n_words + 2 :] = 0
    row = {
        "session_id": f"{split}_{index:04d}",
        "corpus": "iemocap",
        "speaker_id": f"{split}_spk{index % 5}",
        "source_id": f"{split}_rec{index}",
        "video_region": "full",
        "label_method": "majority",
        "start_s": start,
        "end_s": start + duration,
        "label": CLASSES[label],
        "votes": [CLASSES[label]] * 3,
        "mfcc": mfcc,
        "frames": jpegs,
        "frame_times": frame_times,
        "frame_available": available,
        "frame_embeddings": planted_embeddings(seed, split, index, len(frame_times), label, signal, embedding_dim),
        "input_ids": (np.arange(N_TOKENS) * mask).astype(np.int32),
        "attention_mask": mask,
        "token_embeddings": embeddings.astype(np.float16),
        "token_start_s": starts,
        "token_end_s": ends,
    }
    if not frames:
        del row["frames"]
    return row


def write_planted_dataset(
    out: Path,
    sizes: dict[str, int] | None = None,
    text_dim: int = 32,
    signal: float = 0.5,
    seed: int = 0,
    duration_s: tuple[float, float] = (4.0, 6.0),
    *,
    fps: float = FPS,
    embedding_dim: int = EMBEDDING_DIM,
    frames: bool = True,
    rows_per_group: int = 64,
) -> Path:
    """Write `out/data/<split>-00000-of-00001.parquet` and `out/README.md`; return `out`.

    Rows are written `rows_per_group` at a time, so a large planted set (the training benchmark's
    30-s sessions) never sits in memory whole.
    """
    from edu_affect_data.stages.features.schema import rows_to_table

    sizes = sizes or {"train": 64, "validation": 24, "test": 24}
    features = dataset_features(text_dim, embedding_dim, frames)
    rng = np.random.default_rng(seed)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, count in sizes.items():
        with pq.ParquetWriter(out / "data" / f"{split}-00000-of-00001.parquet", features.arrow_schema) as writer:
            for first in range(0, count, rows_per_group):
                rows = [
                    _session(rng, i, split, i % len(CLASSES), text_dim, signal, duration_s,
                             seed=seed, fps=fps, embedding_dim=embedding_dim, frames=frames)
                    for i in range(first, min(count, first + rows_per_group))
                ]
                writer.write_table(rows_to_table(rows, features))
    write_card(out, sizes, build_config(fps, frames))
    return out


def build_config(fps: float = FPS, frames: bool = True, **overrides: object) -> dict:
    """The pipeline configuration the planted columns stand for (MFCC 40 x 10 ms, frames at `fps`,
    128 float16 tokens), as the card records it: what the model reads frame periods from."""
    from edu_affect_data.config import load_config

    values = {"features.extractors.frames": {"fps": fps, "store": "both" if frames else "embeddings"},
              "features.extractors.text": {"max_tokens": N_TOKENS, "dtype": "float16"}, **overrides}
    return load_config(None, values).model_dump(mode="json")


def write_card(out: Path, splits: Iterable[str], config: dict) -> None:
    """`out/README.md`: the `configs` YAML naming the splits and the build configuration block, as publish writes them."""
    from edu_affect_data.stages.card import BUILD_CONFIG_SECTION

    data_files = "\n".join(f"  - split: {s}\n    path: data/{s}-*" for s in splits)
    block = json.dumps(config, indent=2, sort_keys=True)
    (out / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{data_files}\n---\n# planted\n\n"
                                   f"{BUILD_CONFIG_SECTION}\n\nConfiguration:\n\n```json\n{block}\n```\n\n## Licence\n")
