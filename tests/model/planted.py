"""A small dataset folder in exactly the published format, with a planted class signal per modality.

Each modality carries the label weakly and independently (noise differs per modality), so each
unimodal model learns something and fusion can learn more. Written like the publish stage does:
Parquet built with `features.arrow_schema` plus a README whose YAML `configs` names the splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from edu_emotionnet.config import CLASSES

N_TOKENS = 128
FPS = 5.0
#: One RGB tint per class for the planted video signal.
TINTS = np.array([[60, -30, -30], [-30, 60, -30], [-30, -30, 60], [40, 40, -60]], dtype=np.float32)


def dataset_features(text_dim: int):  # type: ignore[no-untyped-def]
    """The published schema itself (edu_affect_data.features.schema), so planted data obeys the contract."""
    from edu_affect_data.config import FeaturesConfig, TextFeaturesConfig
    from edu_affect_data.features.schema import dataset_features as published_features

    config = FeaturesConfig(text=TextFeaturesConfig(max_tokens=N_TOKENS, dtype="float16"))
    return published_features(config, hidden_size=text_dim)


def _session(
    rng: np.random.Generator, index: int, split: str, label: int, text_dim: int, signal: float, duration_s: tuple[float, float]
) -> dict:
    import cv2

    duration = float(rng.uniform(*duration_s))
    start = float(rng.uniform(0, 100))
    n_audio = round(duration * 100)
    mfcc = rng.normal(0, 1, (n_audio, 40)).astype(np.float32)
    mfcc[:, label * 8 : label * 8 + 8] += signal
    frame_times = np.arange(0, duration, 1 / FPS, dtype=np.float32)
    frames = []
    for _ in frame_times:
        small = rng.normal(128, 50, (28, 28, 3)).astype(np.float32) + signal * 0.6 * TINTS[label]
        image = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (224, 224), interpolation=cv2.INTER_NEAREST)
        frames.append({"bytes": cv2.imencode(".jpg", image)[1].tobytes(), "path": None})
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
    return {
        "session_id": f"{split}_{index:04d}",
        "corpus": "iemocap",
        "speaker_id": f"{split}_spk{index % 5}",
        "source_id": f"{split}_rec{index}",
        "label_method": "majority",
        "start_s": start,
        "end_s": start + duration,
        "label": label,
        "votes": [CLASSES[label]] * 3,
        "mfcc": mfcc.tolist(),
        "frames": frames,
        "frame_times": frame_times.tolist(),
        "frame_available": available.tolist(),
        "input_ids": (np.arange(N_TOKENS) * mask).astype(np.int32).tolist(),
        "attention_mask": mask.tolist(),
        "token_embeddings": embeddings.astype(np.float16).tolist(),
        "token_start_s": starts.tolist(),
        "token_end_s": ends.tolist(),
    }


def write_planted_dataset(
    out: Path,
    sizes: dict[str, int] | None = None,
    text_dim: int = 32,
    signal: float = 0.5,
    seed: int = 0,
    duration_s: tuple[float, float] = (4.0, 6.0),
) -> Path:
    """Write `out/data/<split>-00000-of-00001.parquet` and `out/README.md`; return `out`."""
    sizes = sizes or {"train": 64, "validation": 24, "test": 24}
    features = dataset_features(text_dim)
    rng = np.random.default_rng(seed)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, count in sizes.items():
        rows = [features.encode_example(_session(rng, i, split, i % len(CLASSES), text_dim, signal, duration_s)) for i in range(count)]
        table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
        pq.write_table(table, out / "data" / f"{split}-00000-of-00001.parquet")
    data_files = "\n".join(f"  - split: {s}\n    path: data/{s}-*" for s in sizes)
    (out / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{data_files}\n---\n# planted\n")
    return out
