"""`edu-data validate DATASET`: check a published dataset against the promises it makes.

Reads the shards with pyarrow, column by column, without decoding images, so validating a
multi-GB dataset costs a read of its numbers. Every violation is collected (not just the first)
and names the split, the session and what is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data import CLASSES
from edu_affect_data.card import stats_from_card

SPLITS = ("train", "validation", "test")
NO_TIME = -1.0


@dataclass(frozen=True)
class Violation:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


def _matrix(value: pa.Scalar) -> np.ndarray:
    """A row's Array2D value as a 2-D numpy array."""
    storage = value.value if isinstance(value, pa.ExtensionScalar) else value
    rows = storage.values
    if len(rows) == 0:
        return np.zeros((0, 0), np.float32)
    flat = rows.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(rows), -1)


def _check_row(split: str, row: dict[str, pa.Scalar], out: list[Violation]) -> None:
    session = row["session_id"].as_py()
    where = f"{split}/{session}"
    start, end = row["start_s"].as_py(), row["end_s"].as_py()
    if not (np.isfinite(start) and np.isfinite(end) and end > start):
        out.append(
            Violation(
                "timestamps",
                where,
                f"start_s {start} / end_s {end} is not a finite, increasing window",
            )
        )
        return
    mfcc = _matrix(row["mfcc"])
    if mfcc.shape[0] == 0:
        out.append(Violation("shape", where, "mfcc has no frames"))
    elif not np.isfinite(mfcc).all():
        out.append(
            Violation(
                "finite", where, f"mfcc has {int((~np.isfinite(mfcc)).sum())} non-finite values"
            )
        )
    n_frames = len(row["frames"])
    times = np.asarray(row["frame_times"].as_py(), dtype=np.float64)
    available = row["frame_available"].as_py()
    if not (n_frames == len(times) == len(available)):
        out.append(
            Violation(
                "shape",
                where,
                f"{n_frames} frames, {len(times)} frame_times, {len(available)} frame_available",
            )
        )
    if len(times) and (
        not np.isfinite(times).all()
        or (np.diff(times) <= 0).any()
        or times[0] < 0
        or times[-1] > end - start
    ):
        out.append(
            Violation(
                "timestamps",
                where,
                "frame_times are not finite, strictly increasing and inside the session",
            )
        )
    embeddings = _matrix(row["token_embeddings"]).astype(np.float32)
    ids, mask = row["input_ids"].as_py(), np.asarray(row["attention_mask"].as_py())
    if embeddings.shape[0] != len(ids) or len(mask) != len(ids):
        out.append(
            Violation(
                "shape",
                where,
                f"{len(ids)} input_ids, {len(mask)} mask, {embeddings.shape[0]} embedding rows",
            )
        )
    if not np.isfinite(embeddings).all():
        out.append(Violation("finite", where, "token_embeddings has non-finite values"))
    starts = np.asarray(row["token_start_s"].as_py(), dtype=np.float64)
    ends = np.asarray(row["token_end_s"].as_py(), dtype=np.float64)
    timed = starts != NO_TIME
    if not np.isfinite(starts).all() or not np.isfinite(ends).all():
        out.append(Violation("finite", where, "token times have non-finite values"))
    elif (np.diff(starts[timed]) < 0).any() or (ends[timed] < starts[timed]).any():
        out.append(Violation("timestamps", where, "token times are not monotone"))
    elif len(mask) == len(starts) and (timed & (mask == 0)).any():
        out.append(Violation("timestamps", where, "a padding token has a time"))


def _shards(dataset: Path, out: list[Violation]) -> dict[str, list[Path]]:
    """Each split's shard files, after checking they exist and agree on one schema."""
    found = {}
    for split in SPLITS:
        shards = sorted((dataset / "data").glob(f"{split}-*.parquet"))
        if not shards:
            out.append(Violation("layout", split, f"no shards data/{split}-*.parquet"))
            continue
        if len({pq.read_schema(s) for s in shards}) > 1:
            out.append(Violation("schema", split, "shards disagree on the schema"))
            continue
        found[split] = shards
    return found


def validate_dataset(path: Path) -> list[Violation]:
    """Every violated promise of the dataset at `path` (empty list: valid)."""
    import datasets  # noqa: F401  (registers the Array2D extension types)

    dataset = Path(path)
    out: list[Violation] = []
    readme = dataset / "README.md"
    if not readme.exists():
        return [Violation("layout", str(dataset), "no README.md dataset card")]
    shards = _shards(dataset, out)
    split_of: dict[str, str] = {}
    speakers: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, list[int]] = {split: [] for split in shards}
    for split, files in shards.items():
        for row in _scalar_rows(files):
            labels[split].append(row["label"].as_py())
            session = row["session_id"].as_py()
            if session in split_of:
                out.append(
                    Violation(
                        "duplicate", f"{split}/{session}", f"session already in {split_of[session]}"
                    )
                )
            split_of[session] = split
            speakers[row["speaker_id"].as_py()].add(split)
            _check_row(split, row, out)
    for speaker, in_splits in sorted(speakers.items()):
        if len(in_splits) > 1:
            out.append(
                Violation(
                    "speaker-leak", speaker, f"speaker appears in {', '.join(sorted(in_splits))}"
                )
            )
    _check_card(readme, labels, out)
    _check_accounted(dataset.parent, split_of, out)
    return out


def _scalar_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """Rows as dicts of Arrow scalars, a small batch in memory at a time (images stay bytes)."""
    for batch in (b for f in files for b in pq.ParquetFile(f).iter_batches(batch_size=16)):
        columns = {name: batch.column(name) for name in batch.schema.names}
        for index in range(batch.num_rows):
            yield {name: column[index] for name, column in columns.items()}


def _check_card(readme: Path, labels_by_split: dict[str, list[int]], out: list[Violation]) -> None:
    try:
        reported = stats_from_card(readme.read_text())["class_counts"]
    except (ValueError, KeyError) as exc:
        out.append(Violation("card", str(readme), str(exc)))
        return
    for split, values in labels_by_split.items():
        labels = np.asarray(values)
        actual = {name: int((labels == index).sum()) for index, name in enumerate(CLASSES)}
        if actual != {c: int(reported.get(split, {}).get(c, -1)) for c in CLASSES}:
            out.append(
                Violation(
                    "class-counts",
                    split,
                    f"card reports {reported.get(split)}, shards hold {actual}",
                )
            )


def _check_accounted(build: Path, split_of: dict[str, str], out: list[Violation]) -> None:
    """With the build's assignment next to the dataset: every labelled kept session is in it or balanced out."""
    from edu_affect_data.artifacts import BuildPaths

    paths = BuildPaths(build)
    if not paths.assignment.exists():
        return
    assignment = pq.read_table(paths.assignment).to_pandas()
    for row in assignment.itertuples():
        where = f"{row.split}/{row.session_id}"
        if row.split == "excluded":
            if row.reason != "balance":
                out.append(
                    Violation(
                        "accounted",
                        where,
                        f"excluded with reason {row.reason!r}, expected 'balance'",
                    )
                )
            elif row.session_id in split_of:
                out.append(
                    Violation(
                        "accounted",
                        where,
                        f"excluded by balancing but present in {split_of[row.session_id]}",
                    )
                )
        elif split_of.get(row.session_id) != row.split:
            out.append(
                Violation(
                    "accounted",
                    where,
                    f"assigned to {row.split} but found in {split_of.get(row.session_id, 'no split')}",
                )
            )
    assigned = set(assignment["session_id"])
    for session in sorted(set(split_of) - assigned):
        out.append(
            Violation(
                "accounted",
                f"{split_of[session]}/{session}",
                "in the dataset but not in splits/assignment.parquet",
            )
        )
    if paths.sessions.exists() and paths.labels.exists():
        sessions = pq.read_table(paths.sessions, columns=["session_id", "status"]).to_pandas()
        kept = set(sessions.loc[sessions["status"] == "kept", "session_id"])
        labelled = set(
            pq.read_table(paths.labels, columns=["session_id"]).column("session_id").to_pylist()
        )
        for session in sorted((kept & labelled) - assigned):
            out.append(
                Violation(
                    "accounted",
                    session,
                    "kept and labelled but missing from splits/assignment.parquet",
                )
            )
