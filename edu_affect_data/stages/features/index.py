"""`features/index.parquet`: what the features stage hands to publish, and nothing else does.

One row per assigned session, in dataset order: its split and, per extractor, the part file its
columns are in, the row within that part and the part's input hash (`FEATURES_INDEX_SCHEMA`).
The schema metadata records the extractors in column order with their columns, and the columns'
`datasets` types,
so publish assembles the dataset without re-planning the features stage, loading a model or
reading the feature configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from edu_affect_data.core.artifacts import FEATURES_INDEX_SCHEMA, BuildPaths
from edu_affect_data.core.atomic import atomic_write_bytes
from edu_affect_data.core.parquet import read_table, write_table

if TYPE_CHECKING:
    import datasets

#: Schema metadata keys of the index.
EXTRACTORS_KEY = b"extractors"
FEATURES_KEY = b"features"


class FeaturesIndexError(ValueError):
    """The index is missing or unreadable; the message names the file."""


@dataclass(frozen=True)
class PartRef:
    """Where one session's columns of one extractor are."""

    extractor: str
    path: str  # relative to features/
    row: int
    input_hash: str


@dataclass(frozen=True)
class IndexEntry:
    session_id: str
    split: str
    parts: tuple[PartRef, ...]


@dataclass(frozen=True)
class FeaturesIndex:
    """The index as read back: entries in dataset order, extractors in column order, their types."""

    entries: tuple[IndexEntry, ...]
    #: extractor -> its columns, in `features.extractors` order.
    extractors: dict[str, tuple[str, ...]]
    #: The extractors' columns (not the session metadata), in dataset order.
    features: datasets.Features


def write_index(
    paths: BuildPaths,
    entries: list[IndexEntry],
    extractors: dict[str, tuple[str, ...]],
    features: datasets.Features,
) -> None:
    """Validate the rows against `FEATURES_INDEX_SCHEMA` and write them atomically (if they changed)."""
    rows: list[dict[str, Any]] = [
        {
            "session_id": entry.session_id,
            "split": entry.split,
            "parts": [vars(part) for part in entry.parts],
        }
        for entry in entries
    ]
    table = pa.Table.from_pylist(rows, schema=FEATURES_INDEX_SCHEMA)
    table = table.replace_schema_metadata(
        {
            EXTRACTORS_KEY: json.dumps([[name, list(columns)] for name, columns in extractors.items()]).encode(),
            FEATURES_KEY: json.dumps(features.to_dict()).encode(),
        }
    )
    buffer = pa.BufferOutputStream()
    write_table(table, buffer)
    data = buffer.getvalue().to_pybytes()
    # Unchanged content keeps the old file (and its mtime): a rerun of features that reused every
    # part leaves the stage's output listing as it was, so publish is skipped as before.
    if paths.features_index.exists() and paths.features_index.read_bytes() == data:
        return
    atomic_write_bytes(paths.features_index, data)


def read_index(paths: BuildPaths) -> FeaturesIndex:
    """The features stage's index; an absent or foreign file is an error naming it."""
    from datasets import Features

    path = paths.features_index
    if not path.exists():
        raise FeaturesIndexError(f"{path}: missing (run the features stage first)")
    table = read_table(path)
    if not table.schema.remove_metadata().equals(FEATURES_INDEX_SCHEMA):
        raise FeaturesIndexError(f"{path}: schema {table.schema.remove_metadata()} is not FEATURES_INDEX_SCHEMA")
    metadata = table.schema.metadata or {}
    if EXTRACTORS_KEY not in metadata or FEATURES_KEY not in metadata:
        raise FeaturesIndexError(f"{path}: no extractor list or feature types in the schema metadata")
    entries = tuple(
        IndexEntry(
            row["session_id"],
            row["split"],
            tuple(PartRef(**part) for part in row["parts"]),
        )
        for row in table.to_pylist()
    )
    return FeaturesIndex(
        entries,
        {str(name): tuple(columns) for name, columns in json.loads(metadata[EXTRACTORS_KEY])},
        Features.from_dict(json.loads(metadata[FEATURES_KEY])),
    )
