"""The files ``edu-data agreement`` reads: a tidy ratings table, or a Label Studio JSON export.

A table (CSV, TSV, Parquet) has one row per vote: ``session_id, annotator, label``. A Label Studio
export is read by the one export reader of the pull (``export.read_votes``), generalised: any
``Choices`` control (``control``, needed only when the results use several), any label, a task
without ``data.session_id`` as its own unit named by its task id, annotators named as the export
names them (the inlined user's e-mail, else ``user-id:<n>``). What the reader leaves out
(cancelled, empty, several choices, a repeated vote) is counted by why, never silently lost.

Labels are data: with ``classes`` None every label found is a class except the abstention
(``abstain``); with ``classes`` given, any other label is an error naming the file and the line,
row, or task and annotation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from edu_affect_data.annotation import export
from edu_affect_data.annotation.estimators import VotesTableError, check_votes_table
from edu_affect_data.core.parquet import DamagedParquet, read_table
from edu_affect_data.core.vocabulary import ABSTAIN

#: The columns of a ratings table: (item, rater, label).
COLUMNS = ("session_id", "annotator", "label")


def allowed_labels(frame: pd.DataFrame, classes: Sequence[str] | None, abstain: str) -> list[str]:
    """Labels a table may hold: ``classes`` and the abstention, or (``classes`` None) any it holds."""
    if classes is not None:
        return list(classes) if abstain in classes else [*classes, abstain]
    return list(frame["label"].dropna().unique()) if "label" in frame.columns else []


def load_ratings(
    path: Path, *, classes: Sequence[str] | None = None, abstain: str = ABSTAIN
) -> pd.DataFrame:
    """Read a CSV or Parquet ratings table and check it, errors naming the file, column and line/row.

    Every way the file can be unusable is a `VotesTableError` naming it: missing, empty, only a
    header, undecodable text, malformed CSV, a corrupt or truncated Parquet file, and (``classes``
    given) a label that is neither a class nor ``abstain``.
    """
    path = Path(path)
    if not path.is_file():
        raise VotesTableError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv", ".tsv"}:
        raise VotesTableError(
            f"{path}: expected a .csv, .tsv or .parquet table of session_id, annotator, label, "
            "or a Label Studio .json export"
        )
    if path.stat().st_size == 0:
        raise VotesTableError(f"{path}: the file is empty (expected a header session_id, annotator, label and rows)")
    offset = 0 if suffix == ".parquet" else 2
    try:
        if suffix == ".parquet":
            frame = read_table(path).to_pandas()
        else:
            frame = pd.read_csv(
                path,
                sep="\t" if suffix == ".tsv" else ",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except (pa.ArrowException, OSError, DamagedParquet) as exc:
        raise VotesTableError(f"{path}: not a readable Parquet file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise VotesTableError(f"{path}: not UTF-8 text (byte offset {exc.start}): {exc.reason}") from exc
    except pd.errors.EmptyDataError as exc:
        raise VotesTableError(f"{path}: no header (expected session_id, annotator, label)") from exc
    except pd.errors.ParserError as exc:
        raise VotesTableError(f"{path}: not a readable {suffix[1:].upper()} table: {' '.join(str(exc).split())}") from exc
    where = f"{path} (rows counted as file lines)" if offset else f"{path} (rows counted from 0)"
    check_votes_table(
        frame,
        source=where,
        columns=COLUMNS,
        labels=allowed_labels(frame, classes, abstain),
        row_offset=offset,
    )
    if frame.empty:
        raise VotesTableError(f"{path}: no ratings (a header but no rows)")
    return frame


@dataclass(frozen=True)
class ExportRatings:
    """The ratings of a Label Studio export, with what was left out and why."""

    #: session_id, annotator, label: one valid vote per row.
    table: pd.DataFrame
    #: The Choices control read.
    control: str
    #: Annotations left out, by why (``export.CANCELLED``, ``export.NO_CHOICE``, ...).
    dropped: dict[str, int]
    notes: list[str] = field(default_factory=list)


def _choose_control(path: Path, controls: list[str], control: str | None) -> str:
    """The control named, or the only one the export's results use; else an error listing them."""
    if control is not None:
        if control not in controls:
            raise VotesTableError(
                f"{path}: no Choices control {control!r} in the export's results; found {controls or 'none'}"
            )
        return control
    if not controls:
        raise VotesTableError(f"{path}: no annotation chooses anything in a Choices control (no result of type 'choices')")
    if len(controls) > 1:
        raise VotesTableError(
            f"{path}: the results use several Choices controls ({', '.join(controls)}): pick one with --control NAME"
        )
    return controls[0]


def _check_export_labels(path: Path, valid: pd.DataFrame, labels: Collection[str]) -> None:
    unknown = valid[~valid["label"].isin(list(labels))]
    if len(unknown):
        first = unknown.iloc[0]
        raise VotesTableError(
            f"{path}: task {first['task_id']}, annotation {first['annotation_id']}: unknown label "
            f"{first['label']!r}; expected one of {list(labels)}"
        )


def load_export(
    path: Path,
    *,
    control: str | None = None,
    classes: Sequence[str] | None = None,
    abstain: str = ABSTAIN,
) -> ExportRatings:
    """The votes of a Label Studio JSON export (the task list with ``annotations``) as ratings.

    A session with votes in several tasks keeps each annotator's first vote (by annotation id);
    the later ones are dropped as duplicates, like repeats within a task.
    """
    path = Path(path)
    if not path.is_file():
        raise VotesTableError(f"{path}: no such file")
    try:
        tasks = export.parse_export(path.read_bytes(), str(path))
    except export.ExportFormatError as exc:
        raise VotesTableError(f"{exc} (expected the JSON file Label Studio exports)") from exc
    chosen = _choose_control(path, export.choice_controls(tasks), control)
    votes = export.read_votes(
        tasks,
        emails=export.inlined_emails(tasks),
        pseudonyms=None,
        labels=None,
        project=path.name,
        control=chosen,
        task_as_session=True,
    )
    if classes is not None:
        _check_export_labels(path, votes.valid, allowed_labels(votes.valid, classes, abstain))
    valid = votes.valid.sort_values("annotation_id", kind="stable")
    repeated = valid.duplicated(["session_id", "annotator"])
    dropped = dict(votes.dropped)
    if repeated.any():
        dropped[export.DUPLICATE] = dropped.get(export.DUPLICATE, 0) + int(repeated.sum())
    table = valid.loc[~repeated, list(COLUMNS)].reset_index(drop=True)
    if table.empty:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(dropped.items())) or "no annotations"
        raise VotesTableError(f"{path}: no usable votes in control {chosen!r} ({why})")
    unnamed = sum(1 for task in tasks if (task.get("data") or {}).get("session_id") is None)
    notes = [f"Read from a Label Studio export, Choices control '{chosen}'."]
    if unnamed:
        notes.append(f"{unnamed} task(s) without data.session_id are their own units, named by task id.")
    if dropped:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(dropped.items()))
        notes.append(f"{sum(dropped.values())} annotation(s) of the export were dropped ({why}).")
    return ExportRatings(table, chosen, dict(sorted(dropped.items())), notes)
