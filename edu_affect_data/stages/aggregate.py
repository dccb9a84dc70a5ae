"""Stage ``aggregate``: labels and the agreement report from the pulled tables, never the server.

It reads only ``annotation/annotations.parquet`` and ``annotation/adjudications.parquet``, applies
``aggregation.method`` and writes ``annotation/labels.parquet`` and ``annotation/agreement/``, so
changing the method reruns this stage alone.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from edu_affect_data.annotation.agreement import (
    AGREEMENT_BOOTSTRAP,
    compute_agreement,
    write_agreement_report,
)
from edu_affect_data.annotation.estimators import aggregate_labels, needs_adjudication
from edu_affect_data.annotation.export import write_table
from edu_affect_data.annotation.gold import read_gold
from edu_affect_data.annotation.options import CampaignSettings
from edu_affect_data.core.artifacts import ADJUDICATIONS_SCHEMA, ANNOTATIONS_SCHEMA, BuildPaths
from edu_affect_data.core.parquet import read_table
from edu_affect_data.core.stage import StageOutcome


class MissingArtifactError(FileNotFoundError):
    """The aggregate stage found no pulled table: the pull stage has not completed in this build."""


def _read_pulled(path: Path, columns: list[str]) -> pd.DataFrame:
    """A table the pull stage wrote, or a clear error when it is not there."""
    if not path.is_file():
        raise MissingArtifactError(f"{path} does not exist: run the pull stage first (edu-data build --until pull)")
    return read_table(path, columns).to_pandas()


def run_aggregate(
    config: CampaignSettings, paths: BuildPaths, *, executor: Executor | None = None
) -> StageOutcome:
    """Labels and the agreement report from the pulled votes and decisions (files only, no server).

    Gold sessions (``annotation/gold.parquet``, drawn at push) are labelled from their votes like any
    other; the report measures each annotator on them and leaves their votes out of the agreement
    figures unless ``annotation.gold.in_agreement``. Under adaptive overlap the agreement figures use
    each session's first ``overlap.initial`` ratings only (``agreement.first_ratings``): the later
    ones were asked for because those disagreed, and would bias every figure.

    ``executor`` is unused: aggregation of a few thousand votes takes well under a second.
    """
    del executor
    annotations = _read_pulled(paths.annotations, ANNOTATIONS_SCHEMA.names)
    decisions = _read_pulled(paths.adjudications, ADJUDICATIONS_SCHEMA.names)
    aggregation = config.aggregation
    queue = needs_adjudication(annotations, aggregation.min_votes) if len(annotations) else []
    aggregated = aggregate_labels(annotations, decisions[["session_id", "label"]], aggregation)
    write_table(aggregated.to_arrow(), paths.labels)
    gold = config.annotation.gold
    report = compute_agreement(
        annotations,
        seed=config.seed,
        n_boot=AGREEMENT_BOOTSTRAP,
        min_votes=aggregation.min_votes,
        gold=read_gold(paths),
        include_gold=gold is not None and gold.in_agreement,
        first=config.annotation.overlap.first_ratings,
    )
    written = write_agreement_report(report, paths.agreement_dir)
    stats: dict[str, float | int | str] = {
        "sessions": int(annotations["session_id"].nunique()),
        "annotations": len(annotations),
        "adjudication_queue": len(queue),
        "adjudicated": len(decisions),
        "labelled": len(aggregated.labels),
        "unresolved": len(aggregated.unresolved),
        "cohen_kappa": round(report.cohen_kappa_mean.estimate, 4),
    }
    message = (
        f"{len(aggregated.labels)} sessions labelled by {aggregation.method} ({len(decisions)} by the reviewer), "
        f"mean Cohen's kappa {report.cohen_kappa_mean.estimate:.2f}"
    )
    return StageOutcome(True, message, (paths.labels, *written), stats)
