"""`edu-data validate DATASET`: check a published dataset against the promises it makes.

Reads the shards with pyarrow, column by column, without decoding images, so validating a
multi-GB dataset costs a read of its numbers. Feature columns are checked by the extractor that
declares them (`FeatureExtractor.check`, found in the registry), so a plugin's promises are
checked like the built-ins'. Every violation is collected (not just the first)
and names the split, the session and what is wrong.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.core.fingerprint import file_digest
from edu_affect_data.core.parquet import DamagedParquet, read_batches, read_table
from edu_affect_data.core.vocabulary import CLASSES, SPLITS
from edu_affect_data.stages.card import front_matter, stats_from_card
from edu_affect_data.stages.features.extractor import finite_check
from edu_affect_data.stages.features.registry import METADATA_COLUMNS, all_extractors


@dataclass(frozen=True)
class Violation:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


#: A row check: (row, session duration) -> (check, message) per violation.
RowCheck = Callable[[Mapping[str, pa.Scalar], float], Iterable[tuple[str, str]]]


def row_checks(columns: Sequence[str]) -> list[RowCheck]:
    """The checks of a schema's feature columns: each registered extractor one of whose column sets it holds.

    Feature columns no registered extractor declares (a plugin not installed here) still get the
    generic check (finite numbers), so a dataset validates without the code that built it.
    """
    present = set(columns)
    checks: list[RowCheck] = []
    claimed = set(METADATA_COLUMNS)
    for extractor in all_extractors():
        # The largest column set it may write that the schema holds (`frames` writes one of three).
        held = [s for s in extractor.column_sets() if set(s) <= present]
        if held:
            checks.append(extractor.check)
            largest: tuple[str, ...] = max(held, key=len)
            claimed.update(largest)
    unclaimed = tuple(c for c in columns if c not in claimed)
    if unclaimed:
        checks.append(lambda row, _duration: finite_check(row, unclaimed))
    return checks


def _check_row(split: str, row: Mapping[str, pa.Scalar], checks: list[RowCheck], out: list[Violation]) -> None:
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
    for check in checks:
        out.extend(Violation(name, where, message) for name, message in check(row, end - start))


#: `datasets`' shard names, with the content digest publish appends (`stages.publish`), if any.
SHARD_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d+)-of-(?P<total>\d+)(?:-(?P<digest>[0-9a-f]+))?\.parquet$")


def _readable_schema(shard: Path, dataset: Path, out: list[Violation]) -> pa.Schema | None:
    """The shard's schema, or None after a violation naming the file (truncated, not Parquet)."""
    try:
        return pq.read_schema(shard)
    except (pa.ArrowException, OSError) as exc:
        out.append(Violation("shard", str(shard.relative_to(dataset)), f"unreadable Parquet: {exc}"))
        return None


def _listed_shards(readme: Path) -> dict[str, list[str]] | None:
    """Each split's data files as the card's `configs` name them, or None when it gives patterns (or nothing usable)."""
    try:
        configs = front_matter(readme.read_text()).get("configs")
    except ValueError:
        return None
    if not isinstance(configs, list) or len(configs) != 1 or not isinstance(configs[0], Mapping):
        return None
    listed: dict[str, list[str]] = {}
    for entry in configs[0].get("data_files") or []:
        if not isinstance(entry, Mapping):
            return None
        files = entry.get("path")
        files = [files] if isinstance(files, str) else files
        if not isinstance(files, list) or any(not isinstance(f, str) or "*" in f for f in files):
            return None
        listed[str(entry.get("split"))] = files
    return listed


def _check_listing(dataset: Path, listed: Mapping[str, list[str]], out: list[Violation]) -> None:
    """The card's named data files against `data/`: each must exist, and nothing else is there.

    `load_dataset` reads exactly the files the card names: a missing one fails the load, an
    unlisted one is silently left out (a shard copied in by hand is not part of the dataset).
    """
    named = {name for files in listed.values() for name in files}
    for name in sorted(named):
        if not (dataset / name).is_file():
            out.append(Violation("layout", name, "shard missing (the card lists it)"))
    for shard in sorted((dataset / "data").glob("*.parquet")):
        name = shard.relative_to(dataset).as_posix()
        if name not in named:
            out.append(Violation("layout", name, "not listed in the card's configs: load_dataset does not read it"))


def _check_digest(shard: Path, dataset: Path, out: list[Violation]) -> None:
    """A shard must hold the content its name's digest promises (a name without one promises none).

    A shard replaced or changed after publishing (another split's shard copied over it) is named
    here; its rows are still checked, so the violations also say what is wrong in them.
    """
    match = SHARD_NAME.match(shard.name)
    if match is not None and match["digest"] and not file_digest(shard).startswith(match["digest"]):
        where = shard.relative_to(dataset).as_posix()
        out.append(Violation("shard", where, "content does not match the digest in its name (replaced or changed after publishing)"))


def _missing_shards(split: str, shards: list[Path], out: list[Violation]) -> None:
    """`SPLIT-0000k-of-0000N.parquet` names promise N shards: each missing index is a violation."""
    named = [m for m in (SHARD_NAME.match(s.name) for s in shards) if m is not None]
    totals = {int(m["total"]) for m in named}
    if len(totals) != 1:
        if named:
            out.append(Violation("layout", split, f"shard names disagree on the shard count: {sorted(totals)}"))
        return
    (total,) = totals
    width = len(named[0]["total"])
    present = {int(m["index"]) for m in named}
    for index in sorted(set(range(total)) - present):
        out.append(
            Violation("layout", f"data/{split}-{index:0{width}d}-of-{total:0{width}d}.parquet", "shard missing")
        )


def _shards(dataset: Path, out: list[Violation]) -> dict[str, list[Path]]:
    """Each split's readable shard files, after checking none is missing or damaged and they agree on one schema.

    The files are those the card names (`configs`), else those its `data/<split>-*` pattern finds.
    """
    listed = _listed_shards(dataset / "README.md")
    if listed is not None:
        _check_listing(dataset, listed, out)
    found = {}
    for split in SPLITS:
        if listed is not None:
            shards = [dataset / name for name in listed.get(split, []) if (dataset / name).is_file()]
        else:
            shards = sorted((dataset / "data").glob(f"{split}-*.parquet"))
            _missing_shards(split, shards, out)
        if not shards:
            if not listed or not listed.get(split):
                out.append(Violation("layout", split, f"no shards data/{split}-*.parquet"))
            continue
        schemas = {shard: _readable_schema(shard, dataset, out) for shard in shards}
        readable = [shard for shard, schema in schemas.items() if schema is not None]
        for shard in readable:
            _check_digest(shard, dataset, out)
        if not readable:
            continue
        if len({schemas[s] for s in readable}) > 1:
            out.append(Violation("schema", split, "shards disagree on the schema"))
            continue
        found[split] = readable
    return found


class NotADataset(ValueError):
    """The folder given to validate holds no dataset at all (neither a card nor shards): the user
    named the wrong folder, which is not a violation of a dataset's promises."""


def validate_dataset(path: Path) -> list[Violation]:
    """Every violated promise of the dataset at `path` (empty list: valid).

    `NotADataset` when `path` is not a folder or holds neither `README.md` nor `data/`.
    """
    import datasets  # noqa: F401  (registers the Array2D extension types)

    dataset = Path(path)
    out: list[Violation] = []
    readme = dataset / "README.md"
    if not dataset.is_dir() or not (readme.exists() or (dataset / "data").exists()):
        hint = f" (a build folder: its dataset is {dataset / 'dataset'})" if (dataset / "dataset" / "README.md").is_file() else ""
        raise NotADataset(f"{dataset}: not a dataset folder, it holds no README.md card and no data/{hint}")
    if not readme.exists():
        return [Violation("layout", str(dataset), "no README.md dataset card")]
    shards = _shards(dataset, out)
    split_of: dict[str, str] = {}
    speakers: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, list[int]] = {split: [] for split in shards}
    sessions: dict[str, list[SessionKeys]] = {split: [] for split in shards}
    for split, files in shards.items():
        checks = row_checks(pq.read_schema(files[0]).names)
        for row in _scalar_rows(files, dataset, out):
            labels[split].append(row["label"].as_py())
            sessions[split].append(SessionKeys(row["speaker_id"].as_py(), row["corpus"].as_py(), row["label"].as_py()))
            session = row["session_id"].as_py()
            if session in split_of:
                out.append(
                    Violation(
                        "duplicate", f"{split}/{session}", f"session already in {split_of[session]}"
                    )
                )
            split_of[session] = split
            speakers[row["speaker_id"].as_py()].add(split)
            _check_row(split, row, checks, out)
    for speaker, in_splits in sorted(speakers.items()):
        if len(in_splits) > 1:
            out.append(
                Violation(
                    "speaker-leak", speaker, f"speaker appears in {', '.join(sorted(in_splits))}"
                )
            )
    _check_card(readme, labels, split_speakers(speakers), out)
    _check_composition(readme, sessions, out)
    _check_accounted(dataset.parent, split_of, out)
    return out


def _scalar_rows(files: list[Path], dataset: Path, out: list[Violation]) -> Iterator[dict[str, Any]]:
    """Rows as dicts of Arrow scalars, a small batch in memory at a time (images stay bytes).

    A shard whose data pages cannot be read (damaged after its footer) stops being read with a
    violation naming the file; the other shards are still checked.
    """
    for shard in files:
        try:
            for batch in read_batches(shard, batch_size=16):
                columns = {name: batch.column(name) for name in batch.schema.names}
                for index in range(batch.num_rows):
                    yield {name: column[index] for name, column in columns.items()}
        except (pa.ArrowException, OSError, DamagedParquet) as exc:
            reason = exc.reason if isinstance(exc, DamagedParquet) else exc
            out.append(Violation("shard", str(shard.relative_to(dataset)), f"unreadable Parquet: {reason}"))


def split_speakers(speakers: Mapping[str, set[str]]) -> dict[str, int]:
    """Distinct speakers per split, from speaker -> the splits it appears in."""
    counts = dict.fromkeys(SPLITS, 0)
    for in_splits in speakers.values():
        for split in in_splits:
            counts[split] += 1
    return counts


def _stated(block: Mapping[str, Any], key: str, split: str) -> Any:
    value = block.get(key)
    return value.get(split) if isinstance(value, Mapping) else None


def _check_card(
    readme: Path, labels_by_split: dict[str, list[int]], speakers: dict[str, int], out: list[Violation]
) -> None:
    """Every count the card states per split (sessions, speakers, classes, `dataset_info` examples) against the shards."""
    try:
        front = front_matter(readme.read_text())
        block = stats_from_card(readme.read_text())
    except (ValueError, KeyError) as exc:
        out.append(Violation("card", str(readme), str(exc)))
        return
    examples = _dataset_info_examples(front)
    for split in SPLITS:
        labels = np.asarray(labels_by_split.get(split, []))
        classes = {name: int((labels == index).sum()) for index, name in enumerate(CLASSES)}
        reported = _stated(block, "class_counts", split)
        if not isinstance(reported, Mapping) or classes != {c: reported.get(c) for c in CLASSES}:
            out.append(Violation("class-counts", split, f"card reports {reported}, shards hold {classes}"))
        for check, stated, actual in (
            ("session-count", _stated(block, "sessions", split), len(labels)),
            ("speaker-count", _stated(block, "speakers", split), speakers.get(split, 0)),
            ("dataset-info", examples.get(split), len(labels)),
        ):
            if stated != actual:
                what = {"session-count": "sessions", "speaker-count": "speakers"}.get(check, "num_examples")
                out.append(Violation(check, split, f"card states {stated} {what}, shards hold {actual}"))


@dataclass(frozen=True)
class SessionKeys:
    """What the card's per-corpus and per-class counts are counted from, per shard row."""

    speaker: str
    corpus: str
    label: int


def _check_composition(readme: Path, sessions: Mapping[str, list[SessionKeys]], out: list[Violation]) -> None:
    """The card's sessions and speakers per split by corpus and by class against the shards.

    Every corpus found in the shards must be stated for every split (0 where absent), and the card
    may state no corpus the shards do not hold.
    """
    try:
        block = stats_from_card(readme.read_text())
    except (ValueError, KeyError):
        return  # already reported by `_check_card`
    corpora = sorted({k.corpus for rows in sessions.values() for k in rows})
    for split in SPLITS:
        rows = sessions.get(split, [])
        by_corpus = {c: [k for k in rows if k.corpus == c] for c in corpora}
        by_class = {name: [k for k in rows if k.label == index] for index, name in enumerate(CLASSES)}
        for check, key, actual in (
            ("corpus-counts", "corpus_counts", {c: len(v) for c, v in by_corpus.items()}),
            ("corpus-speakers", "corpus_speakers", {c: len({k.speaker for k in v}) for c, v in by_corpus.items()}),
            ("class-speakers", "class_speakers", {c: len({k.speaker for k in v}) for c, v in by_class.items()}),
        ):
            stated = _stated(block, key, split)
            if not isinstance(stated, Mapping) or dict(stated) != actual:
                out.append(Violation(check, split, f"card states {key} {stated}, shards hold {actual}"))


def _dataset_info_examples(front: Mapping[str, Any]) -> dict[str, Any]:
    """`dataset_info.splits[].num_examples` by split name (what `load_dataset` reports)."""
    info = front.get("dataset_info")
    splits = info.get("splits") if isinstance(info, Mapping) else None
    if not isinstance(splits, list):
        return {}
    return {str(entry.get("name")): entry.get("num_examples") for entry in splits if isinstance(entry, Mapping)}


def _check_accounted(build: Path, split_of: dict[str, str], out: list[Violation]) -> None:
    """With the build's assignment next to the dataset: every labelled kept session is in it or balanced out."""
    from edu_affect_data.core.artifacts import BuildPaths

    paths = BuildPaths(build)
    if not paths.assignment.exists():
        return
    assignment = read_table(paths.assignment).to_pandas()
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
        sessions = read_table(paths.sessions, ["session_id", "status"]).to_pandas()
        kept = set(sessions.loc[sessions["status"] == "kept", "session_id"])
        labelled = set(
            read_table(paths.labels, ["session_id"]).column("session_id").to_pylist()
        )
        for session in sorted((kept & labelled) - assigned):
            out.append(
                Violation(
                    "accounted",
                    session,
                    "kept and labelled but missing from splits/assignment.parquet",
                )
            )
