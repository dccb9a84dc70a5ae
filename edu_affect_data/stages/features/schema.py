"""The dataset's `datasets.Features` and the Arrow tables that carry them.

The columns are the session metadata plus, in `features.extractors` order, each extractor's own
columns with the types it declares (`features/registry.py`): one definition serves the feature
parts, the published shards, `validate` and the model, so a column's type cannot drift between
stages. Tables are built with the features' real Arrow types (`Array2D` extension arrays, not
`list<list<float>>` with metadata): `datasets` reads them back as numpy/torch arrays at GB/s
instead of converting nested Python lists (measured: 1.7-2.7 GB/s against 28 MB/s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.stages.features.extractor import FeatureExtractor
from edu_affect_data.stages.features.options import FeatureSettings
from edu_affect_data.stages.features.registry import (
    METADATA_COLUMNS,
    selected_extractors,
)

if TYPE_CHECKING:
    import datasets

__all__ = [
    "METADATA_COLUMNS",
    "array2d_column",
    "dataset_features",
    "extractor_features",
    "metadata_features",
    "part_features",
    "rows_to_table",
    "select",
]


def metadata_features() -> datasets.Features:
    """The session columns every row has, whatever extractors ran (docs/contracts.md)."""
    from datasets import ClassLabel, Features, Sequence, Value

    return Features(
        {
            "session_id": Value("string"),
            "corpus": Value("string"),
            "speaker_id": Value("string"),
            "source_id": Value("string"),
            "video_region": Value("string"),
            "label_method": Value("string"),
            "start_s": Value("float64"),
            "end_s": Value("float64"),
            "label": ClassLabel(names=list(CLASSES)),
            "votes": Sequence(Value("string")),
        }
    )


def extractor_features(extractor: FeatureExtractor[Any], settings: Any, *, width: int | None = None) -> datasets.Features:
    """An extractor's declared types, checked to cover exactly one of its `column_sets`, in order."""
    features = extractor.features(settings, width=width)
    sets = extractor.column_sets()
    if tuple(features) not in sets:
        raise ValueError(
            f"feature extractor {extractor.name!r} declares columns "
            f"{' or '.join(str(list(s)) for s in sets)} but types for {list(features)}"
        )
    return features


def dataset_features(config: FeatureSettings, hidden_size: int | None = None) -> datasets.Features:
    """The published columns, in order: metadata, then each of `features.extractors`' columns.

    `config` is a pipeline configuration (or a slice with `features` and `gaps`); `hidden_size` is
    the token-embedding width when already known (else read from the model).
    """
    from datasets import Features

    merged = dict(metadata_features())
    for extractor in selected_extractors(list(config.features.extractors)):
        merged.update(extractor_features(extractor, extractor.settings(config), width=hidden_size))
    return Features(merged)


def part_features(extractor_types: datasets.Features) -> datasets.Features:
    """Columns of one part file: the session id, then the extractor's columns."""
    from datasets import Features, Value

    return Features({"session_id": Value("string"), **extractor_types})


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


def _image(value: Any) -> dict[str, Any]:
    """An image cell: `{"bytes", "path"}` as `datasets` stores it (raw JPEG bytes are wrapped)."""
    return {"bytes": value, "path": None} if isinstance(value, bytes) else value


def rows_to_table(rows: Sequence[dict[str, Any]], features: datasets.Features) -> pa.Table:
    """A table with the features' Arrow schema; `Array2D` values are numpy arrays, images JPEG cells."""
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
        elif isinstance(feature, Image):
            columns.append(pa.array([_image(v) for v in values], arrow_type))
        elif isinstance(getattr(feature, "feature", None), Image):
            columns.append(pa.array([[_image(b) for b in v] for v in values], arrow_type))
        else:
            columns.append(
                pa.array(
                    [v.tolist() if isinstance(v, np.ndarray) else v for v in values], arrow_type
                )
            )
    return pa.Table.from_arrays(columns, schema=schema)
