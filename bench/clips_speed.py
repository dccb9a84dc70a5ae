"""The clips stage before and after stream copy, on the same build, in one run (issue 24, item 2).

    .venv/bin/python bench/clips_speed.py --out /tmp/bench-clips [--rounds 5] [--profile resolution]

The build: profile `resolution` (IEMOCAP 720x480 DivX 29.97 fps, MOSEI 1280x720 H.264 30 fps, the
projection's corpora of `bench/scale.py`, synthesized once under OUT/corpora and reused by it)
ingested under `pipelines/edu_emotion.yaml` with its 30-s sessions, so the region proxies are the
paper configuration's (360 px, all-intra x264 crf 18). Then `annotation.clips.make_clips` cuts
every kept session's clip serially (no pool), each round into a fresh folder, in two ways:

- `re-encode`: `annotation.clip` {height: 360, fps: 25, crf: 26}, the paper configuration before
  this change (decode the proxy window, scale, resample to 25 fps, x264 veryfast);
- `copy`: `annotation.clip` {height: null, fps: null}, the default now (the proxy's packets of the
  window copied, the audio encoded to AAC).

The two alternate within each round, which goes first swapping every round, so load drifts
on a shared machine fall on both. Per way: the median over rounds of CPU (this process and its
reaped ffmpeg children, `getrusage`) and wall, per media-second of the sessions; the ratio
re-encode / copy; and the clips' total size on disk (copied clips hold the proxy's crf-18
intra-only frames, so they are larger). Figures go to OUT/clips_speed.json as well.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import PAPER_CONFIG, corpora, corpus_overrides
from stage_cpu import cpu_now  # this process and its reaped children (the ffmpeg cuts)

WAYS: dict[str, dict[str, Any]] = {
    "re-encode": {"height": 360, "fps": 25.0, "crf": 26},
    "copy": {"height": None, "fps": None, "crf": 26},
}


def ingested(out: Path, profile: str, seed: int) -> list[dict[str, Any]]:
    """The kept sessions of the bench build (ingested once; a rerun reuses it)."""
    from concurrent.futures import ThreadPoolExecutor

    from edu_affect_data.config import load_config
    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.core.manifest import read_sessions
    from edu_affect_data.stages.ingest import run_ingest

    paths = BuildPaths(out / profile / "build")
    marker = paths.out / ".ingested"
    if not marker.exists():
        shutil.rmtree(paths.out, ignore_errors=True)
        config = load_config(PAPER_CONFIG, corpus_overrides(corpora(out, profile, seed)))
        with ThreadPoolExecutor(max_workers=2) as pool:
            run_ingest(config, paths, executor=pool)
        marker.write_text(profile)
    return [r for r in read_sessions(paths).to_pylist() if r["status"] == "kept"]


def cut(sessions: list[dict[str, Any]], folder: Path, way: str) -> dict[str, float]:
    """One serial make_clips into an empty folder: CPU, wall and bytes written."""
    from edu_affect_data.annotation.clips import clips_dir, make_clips
    from edu_affect_data.annotation.options import ClipConfig

    shutil.rmtree(folder, ignore_errors=True)
    clip = ClipConfig(**WAYS[way])
    cpu, wall = cpu_now(), time.perf_counter()
    results = make_clips(sessions, folder, clip)
    cpu, wall = cpu_now() - cpu, time.perf_counter() - wall
    assert all(r.made for r in results), "a clip was reused: the folder was not empty"
    size = sum(p.stat().st_size for p in clips_dir(folder).glob("*.mp4"))
    return {"cpu_s": cpu, "wall_s": wall, "bytes": float(size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-clips"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="resolution", help="synthetic profile (the figures need resolution)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out.resolve()
    sessions = ingested(out, args.profile, args.seed)
    media_s = sum(float(s["end_s"]) - float(s["start_s"]) for s in sessions)
    print(f"{len(sessions)} kept sessions, {media_s:.0f} media s (profile {args.profile}, edu_emotion.yaml)", flush=True)
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for k in range(args.rounds):
        order = list(WAYS) if k % 2 == 0 else list(reversed(WAYS))
        for way in order:
            runs[way].append(cut(sessions, out / "clips" / way, way))
        print(f"  round {k + 1}: " + ", ".join(f"{w} {runs[w][-1]['cpu_s']:.2f} CPU s" for w in WAYS), flush=True)
    figures: dict[str, Any] = {"sessions": len(sessions), "media_s": media_s, "rounds": args.rounds}
    print(f"\n{'way':12}{'CPU s':>9}{'wall s':>9}{'CPU/media-s':>13}{'MB':>9}{'MB/media-min':>14}")
    for way in WAYS:
        cpu = statistics.median(r["cpu_s"] for r in runs[way])
        wall = statistics.median(r["wall_s"] for r in runs[way])
        size = runs[way][-1]["bytes"] / 1e6
        figures[way] = {"cpu_s": cpu, "wall_s": wall, "cpu_per_media_s": cpu / media_s, "mb": size, "runs": runs[way]}
        print(f"{way:12}{cpu:9.2f}{wall:9.2f}{cpu / media_s:13.5f}{size:9.1f}{size / media_s * 60:14.2f}")
    figures["cpu_ratio"] = figures["re-encode"]["cpu_s"] / figures["copy"]["cpu_s"]
    figures["wall_ratio"] = figures["re-encode"]["wall_s"] / figures["copy"]["wall_s"]
    print(f"re-encode / copy: CPU {figures['cpu_ratio']:.1f}x, wall {figures['wall_ratio']:.1f}x "
          f"(medians over {args.rounds} interleaved rounds)")
    (out / "clips_speed.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
