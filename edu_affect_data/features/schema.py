"""The dataset's `datasets.Features` and the Arrow tables that carry them.

One definition serves the feature parts, the published shards and `validate`, so a column's
type cannot drift between stages. Tables are built with the features' real Arrow types
(`Array2D` extension arrays, not `list<list<float>>` with metadata): `datasets` reads them back
as numpy/torch arrays at GB/s instead of converting nested Python lists (shared/NOTES.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from edu_affect_data import CLASSES
from edu_affect_data.config import FeaturesConfig

if TYPE_CHECKING:
    import datasets

#: Columns a media part carries besides the media: everything the card and the trainer need.
METADATA_COLUMNS: tuple[str, ...] = (
    "session_id",
    "corpus",
    "speaker_id",
    "source_id",
    "label_method",
    "start_s",
    "end_s",
    "label",
    "votes",
)
MEDIA_COLUMNS: tuple[str, ...] = ("mfcc", "frames", "frame_times", "frame_available")
TEXT_COLUMNS: tuple[str, ...] = (
    "input_ids",
    "attention_mask",
    "token_embeddings",
    "token_start_s",
    "token_end_s",
)
DATASET_COLUMNS: tuple[str, ...] = METADATA_COLUMNS + MEDIA_COLUMNS + TEXT_COLUMNS


def dataset_features(config: FeaturesConfig, hidden_size: int) -> datasets.Features:
    """The published columns, in order (docs/contracts.md)."""
    from datasets import Array2D, ClassLabel, Features, Image, Sequence, Value

    tokens = config.text.max_tokens
    return Features(
        {
            "session_id": Value("string"),
            "corpus": Value("string"),
            "speaker_id": Value("string"),
            "source_id": Value("string"),
            "label_method": Value("string"),
            "start_s": Value("float64"),
            "end_s": Value("float64"),
            "label": ClassLabel(names=list(CLASSES)),
            "votes": Sequence(Value("string")),
            "mfcc": Array2D(shape=(None, config.audio.n_mfcc), dtype="float32"),
            "frames": Sequence(Image()),
            "frame_times": Sequence(Value("float32")),
            "frame_available": Sequence(Value("bool")),
            "input_ids": Sequence(Value("int32"), length=tokens),
            "attention_mask": Sequence(Value("int8"), length=tokens),
            "token_embeddings": Array2D(shape=(tokens, hidden_size), dtype=config.text.dtype),
            "token_start_s": Sequence(Value("float32"), length=tokens),
            "token_end_s": Sequence(Value("float32"), length=tokens),
        }
    )


def select(features: datasets.Features, columns: Sequence[str]) -> datasets.Features:
    """The sub-schema of some columns (a part holds only its own)."""
    from datasets import Features

    return Features({name: features[name] for name in columns})


def array2d_column(matrices: Sequence[np.ndarray], arrow_type: Any) -> pa.ExtensionArray:
    """An `Array2D` extension column from 2-D arrays (rows may differ in their first dimension)."""
    width = int(arrow_type.shape[1])
    for matrix in matrices:
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise ValueError(
                f"expected (n, {width}) arrays for {arrow_type.shape}, got {matrix.shape}"
            )
    lengths = np.array([m.shape[0] for m in matrices], dtype=np.int64)
    flat = np.concatenate([m.reshape(-1) for m in matrices]) if matrices else np.zeros(0)
    values = pa.array(flat.astype(arrow_type.value_type, copy=False))
    inner = pa.ListArray.from_arrays(
        pa.array(np.arange(0, lengths.sum() * width + 1, width, dtype=np.int32)), values
    )
    outer = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)), inner
    )
    return pa.ExtensionArray.from_storage(arrow_type, outer.cast(arrow_type.storage_type))


def rows_to_table(rows: Sequence[dict[str, Any]], features: datasets.Features) -> pa.Table:
    """A table with the features' Arrow schema; `Array2D` values are numpy arrays, images JPEG bytes."""
    from datasets import Array2D, ClassLabel, Image

    schema = features.arrow_schema
    columns = []
    for name, feature in features.items():
        values = [row[name] for row in rows]
        arrow_type = schema.field(name).type
        if isinstance(feature, Array2D):
            columns.append(array2d_column(values, arrow_type))
        elif isinstance(feature, ClassLabel):
            columns.append(pa.array([feature.str2int(v) for v in values], arrow_type))
        elif isinstance(getattr(feature, "feature", None), Image):
            columns.append(
                pa.array([[{"bytes": b, "path": None} for b in v] for v in values], arrow_type)
            )
        else:
            columns.append(
                pa.array(
                    [v.tolist() if isinstance(v, np.ndarray) else v for v in values], arrow_type
                )
            )
    return pa.Table.from_arrays(columns, schema=schema)


def media_part_features(config: FeaturesConfig) -> datasets.Features:
    """Columns of a media part: metadata + audio + video (no text model needed)."""
    return select(dataset_features(config, hidden_size=1), METADATA_COLUMNS + MEDIA_COLUMNS)


def text_part_features(config: FeaturesConfig, hidden_size: int) -> datasets.Features:
    """Columns of a text part: the session id + the token columns."""
    return select(dataset_features(config, hidden_size), ("session_id", *TEXT_COLUMNS))
