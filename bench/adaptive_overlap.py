"""Adaptive vs fixed overlap on the demo corpus: annotations saved, label accuracy kept (run by hand).

    bash scripts/labelstudio.sh start
    .venv/bin/python bench/adaptive_overlap.py --out /tmp/bench-adaptive --seeds 0 1 2 3 4

Synthesizes the demo corpora once and ingests them once, then runs the whole annotation campaign
(push, simulated annotators through the real local Label Studio, escalation, the simulated senior
reviewer, pull, aggregation) twice per seed on the same kept sessions: fixed overlap
``{initial: 3, max: 3}`` and adaptive ``{initial: 2, max: 3}``, each in its own project (deleted
after). The seed drives the simulated annotators' answers and who gets which task, so each seed is
another campaign of the same people on the same corpus.

Per campaign it prints the annotations per session (submitted to Label Studio, what a lab pays for),
the sessions with 2 and 3 ratings, the sessions the reviewer decided, and the accuracy of the
published labels against ``synth_truth.json``; then the saving (1 - adaptive / fixed annotations)
and the accuracy difference (adaptive - fixed, points) per seed and their mean, with a 95 % t
interval over seeds. Targets of issue 12: saving >= 25 %, accuracy loss <= 1 point.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from scipy import stats as scipy_stats

from edu_affect_data.annotation.client import connect, find_project, load_settings
from edu_affect_data.annotation.review import adjudication_title
from edu_affect_data.annotation.simulate import session_truths
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.stages.aggregate import run_aggregate
from edu_affect_data.stages.annotate import run_annotate
from edu_affect_data.stages.pull import run_pull

REPO = Path(__file__).resolve().parents[1]
MODES = {"fixed": {"initial": 3, "max": 3}, "adaptive": {"initial": 2, "max": 3}}


def prepare(out: Path) -> tuple[Path, Path]:
    """Demo corpora and their ingested sessions table (made once, reused by every campaign)."""
    from edu_affect_data.stages.ingest import run_ingest
    from edu_affect_data.synth import synthesize

    corpora = out / "corpora"
    if not (corpora / "synth_truth.json").exists():
        synthesize(corpora, "demo", 0, overwrite=True)
    base = BuildPaths(out / "ingested")
    if not base.sessions.exists():
        config = load_config(REPO / "pipelines" / "demo.yaml", corpora_overrides(corpora))
        outcome = run_ingest(config, base)
        if not outcome.complete:
            raise SystemExit(f"ingest did not complete: {outcome.message}")
    return corpora, base.sessions


def corpora_overrides(corpora: Path) -> dict[str, Any]:
    return {
        "corpora.iemocap": str(corpora / "IEMOCAP_full_release"),
        "corpora.mosei": str(corpora / "CMU_MOSEI"),
    }


def campaign(out: Path, corpora: Path, sessions: Path, media: Path, mode: str, seed: int) -> dict[str, Any]:
    """One whole campaign in its own project; its figures."""
    title = f"bench {mode} s{seed} {uuid.uuid4().hex[:6]}"
    config: PipelineConfig = load_config(
        REPO / "pipelines" / "demo.yaml",
        {
            **corpora_overrides(corpora),
            "seed": seed,
            "annotation.project_title": title,
            "annotation.overlap": MODES[mode],
            "annotation.media_root": str(media),  # clips cut once, shared by every campaign
        },
    )
    paths = BuildPaths(out / f"{mode}-seed{seed}")
    shutil.rmtree(paths.out, ignore_errors=True)
    paths.sessions.parent.mkdir(parents=True)
    shutil.copyfile(sessions, paths.sessions)
    # The table names its proxies relative to the build folder: this one sees the ingested build's.
    paths.video_dir.symlink_to(sessions.parent / paths.video_dir.name, target_is_directory=True)
    started = time.perf_counter()
    try:
        for stage in (run_annotate, run_pull, run_aggregate):
            outcome = stage(config, paths)
            if not outcome.complete:
                raise SystemExit(f"{mode} seed {seed}: {stage.__name__} did not complete: {outcome.message}")
        seconds = time.perf_counter() - started
        votes = pq.read_table(paths.annotations).to_pandas()
        labels = pq.read_table(paths.labels).to_pandas()
        adjudicated = pq.read_table(paths.adjudications).num_rows
    finally:
        settings = load_settings()
        ls = connect(settings)
        for name in (title, adjudication_title(title)):
            project_id = find_project(ls, name, settings)
            if project_id is not None:
                ls.projects.delete(id=project_id)
    kept = [r for r in read_sessions(paths).to_pylist() if r["status"] == "kept"]
    assert config.annotation.simulate is not None
    truth = session_truths(config.annotation.simulate, kept)
    ratings = votes.groupby("session_id").size()
    return {
        "mode": mode,
        "seed": seed,
        "sessions": len(kept),
        "annotations": len(votes),
        "per_session": len(votes) / len(kept),
        "with_2": int((ratings == 2).sum()),
        "with_3": int((ratings == 3).sum()),
        "adjudicated": adjudicated,
        "accuracy": float((labels["label"] == labels["session_id"].map(truth)).mean()),
        "labelled": len(labels),
        "seconds": seconds,
    }


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % t interval over seeds."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = scipy_stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-adaptive"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    corpora, sessions = prepare(args.out)
    media = args.out / "media"
    rows = []
    print("| mode | seed | sessions | annotations | per session | 2 ratings | 3 ratings | reviewer | label accuracy | s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in args.seeds:
        for mode in MODES:
            row = campaign(args.out, corpora, sessions, media, mode, seed)
            rows.append(row)
            print(
                f"| {mode} | {seed} | {row['sessions']} | {row['annotations']} | {row['per_session']:.3f} | "
                f"{row['with_2']} | {row['with_3']} | {row['adjudicated']} | {100 * row['accuracy']:.2f} % | "
                f"{row['seconds']:.0f} |",
                flush=True,
            )
    by = {(r["mode"], r["seed"]): r for r in rows}
    savings = [1 - by["adaptive", s]["annotations"] / by["fixed", s]["annotations"] for s in args.seeds]
    differences = [100 * (by["adaptive", s]["accuracy"] - by["fixed", s]["accuracy"]) for s in args.seeds]
    saving, saving_low, saving_high = interval(savings)
    difference, difference_low, difference_high = interval(differences)
    print()
    print(f"annotations saved by adaptive overlap: {100 * saving:.1f} % (95 % CI over seeds {100 * saving_low:.1f} to {100 * saving_high:.1f}); target >= 25 %")
    print(f"label accuracy, adaptive - fixed: {difference:+.2f} points (95 % CI {difference_low:+.2f} to {difference_high:+.2f}); target >= -1 point")
    print(f"per seed: saving {[round(100 * s, 1) for s in savings]} %, accuracy difference {[round(d, 2) for d in differences]} points")


if __name__ == "__main__":
    main()
