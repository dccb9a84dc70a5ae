"""Gold tasks: sessions with a known label mixed into the annotators' queue to measure them.

Label Studio Enterprise calls them ground-truth tasks; on a Community server they are ordinary
tasks of the build's kept sessions, shown like any other (an annotator cannot tell them apart), that
collect ``gold.overlap`` annotations so that many annotators meet them. Which sessions are gold is
drawn once per push from ``annotation.gold.file`` (a pilot the senior reviewer labelled, say): a
``fraction`` of the campaign's tasks, by the build's seed, and written to ``annotation/gold.parquet``
so that the later stages (the agreement report) and ``annotate status`` read the same set from disk.

Gold labels measure annotators; they do not publish: a gold session's published label comes from
its votes like any other's, and its votes are left out of the agreement figures unless
``gold.in_agreement``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from edu_affect_data.annotation.options import GoldConfig
from edu_affect_data.core.artifacts import GOLD_SCHEMA, BuildPaths
from edu_affect_data.core.parquet import read_table, save_table
from edu_affect_data.core.vocabulary import CLASSES

#: Seed role of the gold draw, so it does not share a stream with other draws of the build.
_GOLD_DRAW = 7001


class GoldFileError(ValueError):
    """A gold file that cannot be used; the message names the file and the line."""


def read_gold_file(path: Path, classes: Collection[str] = CLASSES) -> dict[str, str]:
    """session_id -> known label from a ``session_id,label`` CSV (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise GoldFileError(f"{path}: no such gold file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise GoldFileError(f"{path}: not a readable CSV of session_id,label: {' '.join(str(exc).split())}") from exc
    missing = [c for c in ("session_id", "label") if c not in frame.columns]
    if missing:
        raise GoldFileError(f"{path}: missing column(s) {missing}; expected a header session_id,label")
    gold: dict[str, str] = {}
    for line, (session, label) in enumerate(zip(frame["session_id"], frame["label"], strict=True), start=2):
        if not session:
            raise GoldFileError(f"{path}, line {line}: empty session_id")
        if label not in classes:
            raise GoldFileError(f"{path}, line {line}: label {label!r} of {session} is not one of {sorted(classes)}")
        if session in gold:
            raise GoldFileError(f"{path}, line {line}: session {session} is listed twice")
        gold[session] = label
    if not gold:
        raise GoldFileError(f"{path}: no gold sessions (a header but no rows)")
    return gold


def draw_gold(config: GoldConfig, sessions: Collection[str], *, seed: int) -> dict[str, str]:
    """The gold tasks of a campaign over ``sessions`` (this build's kept sessions).

    Every session of the file must be a kept session of the build (a typo or a file from another
    build is an error, not a silent skip). ``fraction`` of the sessions, at least one, at most the
    file's size, are drawn by the seed.
    """
    gold = read_gold_file(config.file)
    unknown = sorted(set(gold) - set(sessions))
    if unknown:
        raise GoldFileError(
            f"{config.file}: {len(unknown)} session(s) are not kept sessions of this build, e.g. {unknown[:3]}"
        )
    wanted = min(len(gold), max(1, round(config.fraction * len(sessions))))
    ids = sorted(gold)
    chosen = np.random.default_rng([seed, _GOLD_DRAW]).choice(len(ids), wanted, replace=False)
    return {ids[i]: gold[ids[i]] for i in sorted(int(i) for i in chosen)}


def write_gold(gold: Mapping[str, str], paths: BuildPaths) -> Path:
    """``annotation/gold.parquet`` (always written, empty without gold, so readers need no server)."""
    table = pa.Table.from_pydict(
        {"session_id": list(gold), "label": list(gold.values())}, schema=GOLD_SCHEMA
    )
    return save_table(table, paths.gold)


def read_gold(paths: BuildPaths) -> dict[str, str]:
    """The campaign's gold tasks as drawn at push time (empty when the build has none)."""
    if not paths.gold.is_file():
        return {}
    table = read_table(paths.gold)
    return dict(zip(table["session_id"].to_pylist(), table["label"].to_pylist(), strict=True))
