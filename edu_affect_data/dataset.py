"""Stage `publish`: the feature parts become Parquet shards that `datasets.load_dataset` reads.

Rows are streamed one session at a time from the parts into size-capped row groups and shards
(`dataset.max_row_group_mb`, `dataset.max_shard_mb`, measured uncompressed like `datasets`
does), so publishing a corpus needs the memory of one row group, not of the dataset. The table
schema is `Features.arrow_schema`: real `Array2D` extension types plus the `huggingface`
metadata, which is what makes `load_dataset` return the declared features. The folder is built
next to the old one and swapped in at the end, so a failed publish never leaves half a dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data import CLASSES
from edu_affect_data.artifacts import BuildPaths
from edu_affect_data.card import SplitStats, render_card
from edu_affect_data.config import PipelineConfig
from edu_affect_data.features.run import TextChunk, feature_dirs, load_plan, media_jobs, text_chunks
from edu_affect_data.features.schema import DATASET_COLUMNS, dataset_features
from edu_affect_data.splits import SPLITS
from edu_affect_data.stage import StageOutcome

MB = 1024 * 1024


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
            self.writer = pq.ParquetWriter(path, self.schema)
            self.shard_bytes = 0
        self.writer.write_table(group, row_group_size=group.num_rows)
        self.shard_bytes += group.nbytes

    def close(self) -> list[Path]:
        """Finish and give the shards their `split-XXXXX-of-YYYYY.parquet` names (an empty split gets one empty shard)."""
        if self.buffer:
            self._flush()
        if self.writer is None and not self.shards:
            path = self.folder / f".{self.split}-00000.parquet"
            pq.write_table(self.schema.empty_table(), path)
            self.shards.append(path)
        if self.writer is not None:
            self.writer.close()
        final = []
        for index, path in enumerate(self.shards):
            target = self.folder / f"{self.split}-{index:05d}-of-{len(self.shards):05d}.parquet"
            path.replace(target)
            final.append(target)
        return final


def _rows(
    media_part: dict[str, Path], chunks: list[TextChunk], schema: pa.Schema
) -> Iterator[pa.Table]:
    """One-row tables in dataset order: the session's media part joined with its text row."""
    for chunk in chunks:
        text_path = chunk.part
        text = pq.read_table(text_path)
        for index, record in enumerate(chunk.records):
            session_id = record["session_id"]
            if text["session_id"][index].as_py() != session_id:
                raise PublishError(f"{text_path}: row {index} is not session {session_id}")
            media = pq.read_table(media_part[session_id])
            columns = [
                media[name] if name in media.column_names else text[name].slice(index, 1)
                for name in DATASET_COLUMNS
            ]
            yield pa.Table.from_arrays(
                [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns],
                schema=schema,
            )


def split_stats(plan: pd.DataFrame) -> dict[str, SplitStats]:
    """Sessions, hours, speakers and class counts per split, from the plan the shards were written from."""
    stats = {}
    for split in SPLITS:
        rows = plan.loc[plan["split"] == split]
        stats[split] = SplitStats(
            sessions=len(rows),
            hours=float((rows["end_s"] - rows["start_s"]).sum()) / 3600.0,
            speakers=int(rows["speaker_id"].nunique()),
            class_counts={c: int((rows["label"] == c).sum()) for c in CLASSES},
        )
    return stats


def run_publish(
    config: PipelineConfig, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Write `dataset/data/*.parquet` and the `README.md` card from the feature parts.

    `executor` is accepted for the uniform stage signature; publishing is I/O bound and serial.
    """
    del executor
    import datasets  # noqa: F401  (registers the Array2D extension types the parts use)

    plan = load_plan(paths)
    media_dir, text_dir = feature_dirs(paths)
    jobs = media_jobs(plan, config, media_dir)
    chunks = text_chunks(plan, config, text_dir)
    absent = [j.part for j in jobs if not j.part.exists()] + [
        c.part for c in chunks if not c.part.exists()
    ]
    if absent:
        raise PublishError(
            f"{len(absent)} feature parts missing (first: {absent[0]}); run the features stage first"
        )
    hidden = (
        int(pq.read_schema(chunks[0].part).field("token_embeddings").type.shape[1]) if chunks else 1
    )
    features = dataset_features(config.features, hidden)
    schema = features.arrow_schema

    staging = paths.out / "dataset.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    media_part = {j.session["session_id"]: j.part for j in jobs}
    shards: dict[str, list[Path]] = {}
    sizes: dict[str, int] = {}
    for split in SPLITS:
        writer = ShardWriter(
            staging / "data",
            split,
            schema,
            config.dataset.max_shard_mb * MB,
            config.dataset.max_row_group_mb * MB,
        )
        for row in _rows(media_part, [c for c in chunks if c.split == split], schema):
            writer.add(row)
        shards[split] = writer.close()
        sizes[split] = sum(p.stat().st_size for p in shards[split])
    stats = split_stats(plan)
    (staging / "README.md").write_text(render_card(config, paths, features, stats, sizes))
    if paths.dataset.exists():
        shutil.rmtree(paths.dataset)
    staging.replace(paths.dataset)
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
