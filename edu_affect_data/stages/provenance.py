"""What a dataset card states first: where its sessions and labels came from, and which code made it.

A reader of a Table I built on this dataset must know before any figure whether the corpora were
recorded or generated (`edu-data synth`), whether the labels are people's judgements or simulated
annotators' (`annotation.simulate`), how many labels a reviewer decided, how many ratings each
session got and which of them the agreement figures use, and which code and configuration built
it. The record is read from the build's artifacts only: `build_config.json` (the resolved
configuration and the corpora's nature, written by `edu-data build`), `annotation/labels.parquet`,
`splits/assignment.parquet` and `annotation/agreement/agreement.json`. What an artifact does not
say (publish run outside a build, no agreement report) is stated as not recorded, never guessed.

The same record is the `provenance` entry of the card's YAML `edu_affect` block, which the model
report reads back for its own header (`summary_lines`), so both say it in the same words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.parquet import read_table
from edu_affect_data.core.provenance import code_version
from edu_affect_data.core.vocabulary import ADJUDICATED, EXCLUDED

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class DatasetProvenance:
    record: dict[str, Any]  # JSON-ready: the card's YAML `edu_affect.provenance`
    build_config: dict[str, Any] | None  # the resolved configuration (public paths); None outside a build


def read_build_config(paths: BuildPaths) -> dict[str, Any] | None:
    """`build_config.json` as written by `edu-data build`, or None when there is none."""
    if not paths.build_config.is_file():
        return None
    return dict(json.loads(paths.build_config.read_text(encoding="utf-8")))


def _reviewer_counts(paths: BuildPaths) -> dict[str, int]:
    labels = read_table(paths.labels, ["session_id", "method"]).to_pandas()
    assignment = read_table(paths.assignment, ["session_id", "split"]).to_pandas()
    in_dataset = labels.merge(assignment.loc[assignment["split"] != EXCLUDED], on="session_id")
    return {
        "labelled": len(labels),
        "decided_by_reviewer": int((labels["method"] == ADJUDICATED).sum()),
        "in_dataset": len(in_dataset),
        "in_dataset_decided_by_reviewer": int((in_dataset["method"] == ADJUDICATED).sum()),
    }


def _agreement(paths: BuildPaths, overlap: dict[str, Any] | None) -> dict[str, Any] | None:
    """Which ratings the agreement figures use, from the agreement report and the overlap policy."""
    source = paths.agreement_dir / "agreement.json"
    if not source.is_file():
        return None
    report = json.loads(source.read_text(encoding="utf-8"))
    gold = report.get("gold") or {}
    # Under adaptive overlap aggregate keeps each session's first `overlap.initial` ratings only.
    first: int | str | None = NOT_RECORDED
    if overlap is not None:
        first = int(overlap["initial"]) if overlap["max"] > overlap["initial"] else None
    return {
        "ratings": report.get("n_ratings"),
        "sessions": report.get("n_sessions"),
        "first_ratings_only": first,
        "gold_sessions_left_out": gold.get("left_out_of_agreement", 0),
        "notes": list(report.get("notes", [])),
    }


def read_provenance(paths: BuildPaths) -> DatasetProvenance:
    """The card's provenance from the build's artifacts (module docstring)."""
    build = read_build_config(paths)
    config = build["config"] if build is not None else None
    corpora = build["corpora"] if build is not None else None
    annotation = config["annotation"] if config is not None else None
    overlap = dict(annotation["overlap"]) if annotation is not None else None
    record: dict[str, Any] = {
        "code": code_version().to_json(),
        "synthetic_corpora": sorted(n for n, c in corpora.items() if c["synthetic"]) if corpora is not None else NOT_RECORDED,
        "recorded_corpora": sorted(n for n, c in corpora.items() if not c["synthetic"]) if corpora is not None else NOT_RECORDED,
        "simulated_annotators": annotation.get("simulate") is not None if annotation is not None else NOT_RECORDED,
        "overlap": ({**overlap, "adaptive": overlap["max"] > overlap["initial"]} if overlap is not None else NOT_RECORDED),
        "agreement": _agreement(paths, overlap) or NOT_RECORDED,
        "labels": _reviewer_counts(paths),
        "build_config": "build_config.json" if build is not None else NOT_RECORDED,
    }
    return DatasetProvenance(record, config)


def summary_lines(record: dict[str, Any]) -> list[str]:
    """The provenance as Markdown bullets, synthetic data and simulated people first and in bold."""
    lines = []
    synthetic, recorded = record.get("synthetic_corpora"), record.get("recorded_corpora")
    if synthetic == NOT_RECORDED:
        lines.append("- Corpora: whether they are synthetic is not recorded (the dataset was not published by `edu-data build`).")
    else:
        if synthetic:
            lines.append(f"- **Synthetic corpora: {', '.join(synthetic)}** (generated by `edu-data synth`, not recordings of people).")
        if recorded:
            lines.append(f"- Recorded corpora: {', '.join(recorded)}.")
    simulated = record.get("simulated_annotators")
    if simulated is True:
        lines.append("- **Simulated annotators** (`annotation.simulate`): the labels are not people's judgements.")
    elif simulated is False:
        lines.append("- Annotators: people, through Label Studio (no simulated annotators).")
    else:
        lines.append("- Annotators: whether they were simulated is not recorded.")
    overlap = record.get("overlap")
    if isinstance(overlap, dict):
        policy = (f"adaptive: {overlap['initial']} ratings per session, raised to {overlap['max']} when they disagree"
                  if overlap["adaptive"] else f"fixed: {overlap['initial']} ratings per session")
        lines.append(f"- Overlap policy: {policy}.")
    agreement = record.get("agreement")
    if isinstance(agreement, dict):
        first = agreement["first_ratings_only"]
        used = (f"each session's first {first} ratings" if isinstance(first, int)
                else "every rating" if first is None else "ratings chosen as the aggregate stage chose (overlap not recorded)")
        gold = agreement["gold_sessions_left_out"]
        lines.append(f"- Agreement computed on {used}: {agreement['ratings']} ratings of {agreement['sessions']} sessions"
                     + (f", {gold} gold sessions left out" if gold else "") + ".")
    labels = record.get("labels") or {}
    if labels:
        lines.append(f"- Decided by the reviewer: {labels['decided_by_reviewer']} of {labels['labelled']} labelled sessions "
                     f"({labels['in_dataset_decided_by_reviewer']} of the {labels['in_dataset']} in the dataset).")
    if record.get("code"):
        lines.append(f"- Code: {describe_code(record['code'])}.")
    return lines


def describe_code(code: dict[str, Any]) -> str:
    """"edu-affect-data 0.1.0, commit 1a2b3c4d5e6f" from a `CodeVersion.to_json()` record."""
    commit = code.get("git_commit")
    where = (f"commit {commit[:12]}" + (" with uncommitted changes" if code.get("uncommitted_changes") else "")) if commit else "not a git checkout"
    return f"edu-affect-data {code.get('version')}, {where}"
