"""Stage `publish`: the feature parts become Parquet shards that `datasets.load_dataset` reads.

What to publish comes from artifacts only: `features/index.parquet` (every session's part files
per extractor, and the columns' types) and the assignment, manifest and labels for the session
metadata; publish never re-plans the features stage. Rows are streamed one session at a time from the parts into size-capped row groups and shards
(`dataset.max_row_group_mb`, `dataset.max_shard_mb`, measured uncompressed like `datasets`
does), so publishing a corpus needs the memory of one row group, not of the dataset. The table
schema is `Features.arrow_schema`: real `Array2D` extension types plus the `huggingface`
metadata, which is what makes `load_dataset` return the declared features. The folder is built
next to the old one and swapped in by renames at the end, so a failed or killed publish never
leaves half a dataset.

Shard names carry their content's digest (`train-00000-of-00002-<sha256[:16]>.parquet`) and the
card lists them by name: `datasets` keys its cache on the card's `configs` (the data-file
patterns) and the folder's name, not on the files' content, so with a fixed pattern a dataset
rebuilt in place, or another build's folder also called `dataset`, loaded the rows cached from
the first one. Named by content, a changed dataset is a new cache entry and an unchanged one
(rebuilt byte for byte, or moved) still hits the cache; `validate` checks each name against its bytes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from edu_affect_data.core import parquet
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.fingerprint import SHORT_DIGEST, file_digest
from edu_affect_data.core.interrupt import checkpoint
from edu_affect_data.core.stage import StageOutcome
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, SPLITS
from edu_affect_data.stages.card import CardSettings, SplitStats, render_card
from edu_affect_data.stages.features.index import FeaturesIndex, PartRef, read_index
from edu_affect_data.stages.features.inputs import PUBLISH_COLUMNS, load_plan, metadata_row
from edu_affect_data.stages.features.registry import get_extractor, known_names
from edu_affect_data.stages.features.schema import metadata_features, rows_to_table
from edu_affect_data.stages.split import sessions_and_speakers

if TYPE_CHECKING:
    import datasets

MB = 1024 * 1024


class DatasetConfig(StrictModel):
    max_shard_mb: int = Field(500, gt=0, description="Largest Parquet shard, MB (uncompressed, as `datasets` measures).")
    max_row_group_mb: int = Field(
        64, gt=0, description="Largest row group, MB (uncompressed): what publishing holds at once (`datasets` uses up to 100)."
    )


class PublishSettings(CardSettings, Protocol):
    """What publish reads of the pipeline configuration (its `StageSpec` keys): the card's part and
    the shard sizes. Under the build it is that slice, and the card embeds exactly it."""

    @property
    def dataset(self) -> DatasetConfig: ...


class PublishError(RuntimeError):
    """Features are missing or inconsistent; the message names the part or session."""


class ShardWriter:
    """Writes one split's rows into shards <= `max_shard_bytes` of row groups <= `max_row_group_bytes`.

    A single row larger than a row group becomes a row group of its own (a row cannot be split).
    """

    def __init__(
        self,
        folder: Path,
        split: str,
        schema: pa.Schema,
        max_shard_bytes: int,
        max_row_group_bytes: int,
    ) -> None:
        self.folder, self.split, self.schema = folder, split, schema
        self.max_shard_bytes, self.max_row_group_bytes = max_shard_bytes, max_row_group_bytes
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.shards: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self.shard_bytes = 0

    def add(self, row: pa.Table) -> None:
        if self.buffer and self.buffered + row.nbytes > self.max_row_group_bytes:
            self._flush()
        self.buffer.append(row)
        self.buffered += row.nbytes

    def _flush(self) -> None:
        group = pa.concat_tables(self.buffer)
        self.buffer, self.buffered = [], 0
        if self.writer is not None and self.shard_bytes + group.nbytes > self.max_shard_bytes:
            self.writer.close()
            self.writer = None
        if self.writer is None:
            path = self.folder / f".{self.split}-{len(self.shards):05d}.parquet"
            self.shards.append(path)
            self.writer = parquet.writer(path, self.schema)
            self.shard_bytes = 0
        self.writer.write_table(group, row_group_size=group.num_rows)
        self.shard_bytes += group.nbytes

    def close(self) -> list[Path]:
        """Finish and name the shards `split-XXXXX-of-YYYYY-<digest>.parquet` (an empty split gets one empty shard)."""
        if self.buffer:
            self._flush()
        if self.writer is None and not self.shards:
            path = self.folder / f".{self.split}-00000.parquet"
            parquet.write_table(self.schema.empty_table(), path)
            self.shards.append(path)
        if self.writer is not None:
            self.writer.close()
        final = []
        for index, path in enumerate(self.shards):
            digest = file_digest(path)[:SHORT_DIGEST]
            target = self.folder / f"{self.split}-{index:05d}-of-{len(self.shards):05d}-{digest}.parquet"
            path.replace(target)
            final.append(target)
        return final


class _PartReader:
    """Reads the part files the index names, keeping the last one per extractor (chunks hold many rows)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.open: dict[str, tuple[str, pa.Table]] = {}

    def columns(self, ref: PartRef, session_id: str, names: tuple[str, ...]) -> list[pa.Array]:
        """The session's values of `names` from the part `ref` points at, checked to be its row."""
        cached = self.open.get(ref.extractor)
        if cached is None or cached[0] != ref.path:
            path = self.folder / ref.path
            if not path.exists():
                raise PublishError(f"{path}: feature part missing; run the features stage again")
            cached = (ref.path, parquet.read_table(path))
            self.open[ref.extractor] = cached
        table = cached[1]
        if ref.row >= table.num_rows or table["session_id"][ref.row].as_py() != session_id:
            raise PublishError(f"{self.folder / ref.path}: row {ref.row} is not session {session_id}")
        return [table[name].slice(ref.row, 1).combine_chunks() for name in names]


def _rows(
    index: FeaturesIndex,
    split: str,
    metadata: dict[str, dict[str, object]],
    features: datasets.Features,
    folder: Path,
) -> Iterator[pa.Table]:
    """One-row tables of `split` in index order: the session metadata joined with every extractor's part."""
    schema = features.arrow_schema
    meta_features = metadata_features()
    reader = _PartReader(folder)
    for entry in (e for e in index.entries if e.split == split):
        meta = rows_to_table([metadata[entry.session_id]], meta_features)
        arrays = [meta[name].combine_chunks() for name in meta_features]
        for ref in entry.parts:
            arrays += reader.columns(ref, entry.session_id, index.extractors[ref.extractor])
        yield pa.Table.from_arrays(arrays, schema=schema)


def split_stats(plan: pd.DataFrame) -> dict[str, SplitStats]:
    """Sessions, hours, speakers, and sessions and speakers per class and per corpus of each split,
    from the plan the shards were written from."""
    stats = {}
    corpora = sorted(str(c) for c in plan["corpus"].unique())
    for split in SPLITS:
        rows = plan.loc[plan["split"] == split]
        class_counts, class_speakers = sessions_and_speakers(rows, "label", CLASSES)
        corpus_counts, corpus_speakers = sessions_and_speakers(rows, "corpus", corpora)
        stats[split] = SplitStats(
            sessions=len(rows),
            hours=float((rows["end_s"] - rows["start_s"]).sum()) / 3600.0,
            speakers=int(rows["speaker_id"].nunique()),
            class_counts=class_counts,
            class_speakers=class_speakers,
            corpus_counts=corpus_counts,
            corpus_speakers=corpus_speakers,
        )
    return stats


def _check_index(index: FeaturesIndex, plan: pd.DataFrame, paths: BuildPaths) -> None:
    """The index must list exactly the assigned sessions, in their splits (else features is stale)."""
    indexed = [(e.session_id, e.split) for e in index.entries]
    planned = list(zip(plan["session_id"].astype(str), plan["split"].astype(str), strict=True))
    if indexed != planned:
        extra = sorted(set(indexed) ^ set(planned))
        first = extra[0] if extra else indexed[0]
        raise PublishError(
            f"{paths.features_index}: lists other sessions or splits than {paths.assignment} "
            f"(first difference: {first}); run the features stage again"
        )


def column_notes(index: FeaturesIndex) -> list[str]:
    """The card's sentence per extractor (its `description`), for the extractors registered here."""
    known = set(known_names())
    notes = []
    for name, columns in index.extractors.items():
        description = get_extractor(name).description if name in known else ""
        notes.append(description or f"{', '.join(f'`{c}`' for c in columns)}: from extractor `{name}`.")
    return notes


def _retired(dataset: Path) -> Path:
    return dataset.with_name(f"{dataset.name}.old")


def _swap_in(staging: Path, dataset: Path) -> None:
    """Replace `dataset` by `staging` with renames only, so no reader ever sees half a dataset.

    Deleting the old folder in place would leave it half-deleted if the process is killed
    meanwhile (shards gone, card still there); moved aside first, the worst a kill leaves is no
    `dataset/` at all, with the old one in `dataset.old` for the next run to delete.
    """
    retired = _retired(dataset)
    if dataset.exists():
        dataset.replace(retired)
    staging.replace(dataset)
    shutil.rmtree(retired, ignore_errors=True)


def run_publish(config: PublishSettings, paths: BuildPaths, *, executor: Executor | None = None) -> StageOutcome:
    """Write `dataset/data/*.parquet` and the `README.md` card from the features index.

    `executor` is accepted for the uniform stage signature; publishing is I/O bound and serial.
    """
    del executor
    import datasets  # noqa: F401  (registers the Array2D extension types the parts use)
    from datasets import Features

    plan = load_plan(paths, PUBLISH_COLUMNS)
    index = read_index(paths)
    _check_index(index, plan, paths)
    features = Features({**metadata_features(), **index.features})
    metadata = {str(row["session_id"]): metadata_row(row) for _, row in plan.iterrows()}

    staging = paths.out / "dataset.partial"
    shutil.rmtree(staging, ignore_errors=True)  # a killed run's half-written shards
    shutil.rmtree(_retired(paths.dataset), ignore_errors=True)  # a killed run's old dataset
    (staging / "data").mkdir(parents=True)
    shards: dict[str, list[Path]] = {}
    for split in SPLITS:
        writer = ShardWriter(
            staging / "data",
            split,
            features.arrow_schema,
            config.dataset.max_shard_mb * MB,
            config.dataset.max_row_group_mb * MB,
        )
        for row in _rows(index, split, metadata, features, paths.features_dir):
            checkpoint()  # between rows: a stop never lands inside pyarrow's schema handling
            writer.add(row)
        shards[split] = writer.close()
    stats = split_stats(plan)
    card = render_card(config, paths, features, stats, shards, column_notes=column_notes(index))
    (staging / "README.md").write_text(card)
    _swap_in(staging, paths.dataset)
    total = sum(s.sessions for s in stats.values())
    outcome_stats: dict[str, float | int | str] = {
        f"{s}_sessions": stats[s].sessions for s in SPLITS
    }
    outcome_stats.update({f"{s}_shards": len(shards[s]) for s in SPLITS})
    return StageOutcome(
        True,
        f"publish: {total} sessions in {sum(len(v) for v in shards.values())} shards",
        (paths.dataset,),
        outcome_stats,
    )
