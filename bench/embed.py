"""Benchmark of the frame-embedding extractor against the bare model (run by hand, not in CI).

    .venv/bin/python bench/embed.py --sessions 24 --sizes 112 160 224 --out /tmp/bench-embed

On sessions of a synthetic corpus (profile `demo` by default, cut as `pipelines/demo.yaml` cuts
them, frames at its 5 fps), for each input size: frames/s of the bare network forward on the
frames the extractor embeds (already decoded, in memory, `batch_size` per pass), frames/s of the
`frames` extractor with `store: embeddings` on the same sessions (decode in threads + batching +
forward, chunked like the features stage), and their ratio: 1.0 means decoding is entirely
hidden behind the model. Also the per-frame cost of each. Torch uses `--threads` threads. Each is
run `--repeats` times, alternated, and the best run of each counts (load from other processes
only ever slows a run down).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths


def demo_sessions(out: Path, profile: str, count: int) -> list:
    """`count` kept sessions (SessionInput) of the synthetic corpus, cut with the demo's session settings."""
    from edu_affect_data.core.manifest import read_sessions
    from edu_affect_data.stages.features.inputs import SESSION_COLUMNS, session_input
    from edu_affect_data.stages.ingest import run_ingest
    from edu_affect_data.synth import synthesize

    corpora = out / profile / "corpora"
    if not (corpora / "synth_truth.json").exists():
        synthesize(corpora, profile, 0, overwrite=True)
    config = load_config(
        Path("pipelines/demo.yaml"),
        {"corpora.iemocap.root": str(corpora / "IEMOCAP_full_release"), "corpora.mosei.root": str(corpora / "CMU_MOSEI")},
    )
    paths = BuildPaths(out / profile / "build")
    if not paths.sessions.exists():
        run_ingest(config, paths)
    rows = read_sessions(paths, SESSION_COLUMNS).to_pandas()
    kept = rows.loc[rows["status"] == "kept"].sort_values("session_id")
    step = max(1, len(kept) // count)  # spread over recordings and both corpora
    return [session_input(row, paths.out) for _, row in kept.iloc[::step].head(count).iterrows()]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bench_size(sessions: list, size: int, batch_size: int, threads: int, repeats: int) -> dict[str, float]:
    from edu_affect_data.media.sampling import extract_frames
    from edu_affect_data.stages.features.embedder import ImageEmbedder
    from edu_affect_data.stages.features.frames import EMBED_CHUNK_SESSIONS, FramesExtractor

    config = load_config(
        Path("pipelines/demo.yaml"),
        {
            "features.extractors.frames.store": "embeddings",
            "features.extractors.frames.embedder.size": size,
            "features.extractors.frames.embedder.batch_size": batch_size,
            "features.extractors.frames.embedder.decode_threads": threads,
            "features.extractors.frames.embedder.device": "cpu",
        },
    )
    extractor = FramesExtractor()
    settings = extractor.settings(config)
    extractor.extract_batch(sessions[:1], settings)  # loads the model (not timed)

    def stage() -> None:
        for first in range(0, len(sessions), EMBED_CHUNK_SESSIONS):
            extractor.extract_batch(sessions[first : first + EMBED_CHUNK_SESSIONS], settings)

    pixels = []
    for session in sessions:
        frames = extract_frames(
            Path(session.video_path), session.video_region, session.start_s, session.end_s,
            settings.video, settings.gaps, jpeg=False, pixels_size=size,
        )
        assert frames.pixels is not None
        pixels.append(frames.pixels[frames.available])
    batch = np.concatenate(pixels)
    embedder = ImageEmbedder(settings.video.embedder)  # the same network, alone
    embedder.embed(batch[:batch_size])  # warm-up (not timed), as the stage's first session was
    stage_s, bare_s = float("inf"), float("inf")
    for _ in range(repeats):  # alternated, best of each: other load on the machine only slows a run down
        stage_s = min(stage_s, timed(stage))
        bare_s = min(bare_s, timed(lambda: embedder.embed(batch)))
    extractor.close()
    frames = len(batch)
    return {
        "frames": frames,
        "bare_frames_per_s": frames / bare_s,
        "stage_frames_per_s": frames / stage_s,
        "stage_over_bare": bare_s / stage_s,
        "bare_ms_per_frame": 1000 * bare_s / frames,
        "stage_ms_per_frame": 1000 * stage_s / frames,
    }


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 160, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads and decode threads")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of each; the best of each counts")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-embed"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sessions = demo_sessions(args.out, args.profile, args.sessions)
    results = {size: bench_size(sessions, size, args.batch_size, args.threads, args.repeats) for size in args.sizes}
    print(f"efficientnet-lite0, {len(sessions)} sessions, batch {args.batch_size}, {args.threads} threads, cpu")
    print(f"{'figure':24}" + "".join(f"{f'{s} px':>12}" for s in results))
    for key in next(iter(results.values())):
        print(f"{key:24}" + "".join(f"{results[s][key]:12.3f}" for s in results))


if __name__ == "__main__":
    main()
